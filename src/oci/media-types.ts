/**
 * OCI and KitOps media types, and kit's strict layer media-type grammar.
 * @module
 */

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json";

export const KIT_CONFIG = "application/vnd.kitops.modelkit.config.v1+json";
export const KIT_ARTIFACT_TYPE = "application/vnd.kitops.modelkit.manifest.v1+json";
export const MODELPACK_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json";
export const MODELPACK_CONFIG = "application/vnd.cncf.model.config.v1+json";

/** Manifest annotation keys. */
export const ANNOTATION_CLI_VERSION = "ml.kitops.modelkit.cli-version";
export const ANNOTATION_CREATED = "org.opencontainers.image.created";
export const ANNOTATION_KITFILE = "ml.kitops.modelkit.kitfile";
/** Index entry annotation keys of OCI image layouts (docs/format.md#oci-layouts). */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
/** kit's: the full reference a ModelKit had when it was written into a layout. */
export const ANNOTATION_KIT_REFERENCE = "io.kitops.modelkit.reference";
/** containerd's (nerdctl, BuildKit): an image's full name in an OCI archive. */
export const ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name";
/** Layer annotation keys. */
export const ANNOTATION_FILEPATH = "org.cncf.model.filepath";
export const ANNOTATION_FILE_METADATA = "org.cncf.model.file.metadata+json";
export const ANNOTATION_LAYER_SUBTYPE = "ml.kitops.modelkit.layer-subtype";

/** The Accept header kit sends for manifests. */
export const MANIFEST_ACCEPT = [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX, OCI_ARTIFACT_MANIFEST].join(", ");
