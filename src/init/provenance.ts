/**
 * The attestation `kit import --attestation-output` writes: an in-toto Statement v1 whose subject
 * is the imported ModelKit (its manifest digest) and whose predicate is SLSA Provenance v1 —
 * the source repository, the ref asked for and the commit it resolved to, the Kitfile (the
 * ModelKit's config digest), and every imported file with its sha256 as a resolved dependency.
 * The predicate's field names follow kit's (`buildType` `https://kitops.org/import/v1`, builder
 * `https://kitops.org/kit`, source digest `gitCommit`); see docs/compatibility.md.
 * @module
 */
import { digestHex, type Digest } from "../oci/digest.ts";

/** A file as imported: what the attestation records of it. */
export interface ImportedFile {
  path: string;
  size: number;
  /** sha256 of the content (hex). */
  sha256: string;
  /** The git blob id, when known and checked. */
  gitBlob?: string;
}

export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
export const IMPORT_BUILD_TYPE = "https://kitops.org/import/v1";
export const KIT_BUILDER_ID = "https://kitops.org/kit";

export interface ProvenanceInput {
  /** The ModelKit: the reference it was tagged with and its manifest digest. */
  subject: { name: string; digest: Digest };
  source: {
    /** `https://huggingface.co/org/name`, or `git+<url>` for git. */
    uri: string;
    tool: "hf" | "git";
    /** The ref as requested (`--ref`). */
    ref: string;
    /** The commit it resolved to. */
    commit: string;
  };
  /** The ModelKit's config (the Kitfile as packed). */
  kitfileDigest: Digest;
  files: ImportedFile[];
  /** Where each file can be fetched from at the commit, when there is such a URL. */
  fileUri?: (path: string) => string;
  builderVersion: { kit: string; runtime: string };
  invocationId: string;
  startedOn: Date;
  finishedOn: Date;
}

/** The in-toto Statement as a JSON value (keys in a fixed order). */
export function provenanceStatement(p: ProvenanceInput): Record<string, unknown> {
  const deps = p.files.map((f) => {
    const d: Record<string, unknown> = {};
    if (p.fileUri) d.uri = p.fileUri(f.path);
    d.name = f.path;
    const digest: Record<string, string> = { sha256: f.sha256 };
    if (f.gitBlob) digest.gitBlob = f.gitBlob;
    d.digest = digest;
    d.annotations = { size: f.size };
    return d;
  });
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: p.subject.name, digest: { sha256: digestHex(p.subject.digest) } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: IMPORT_BUILD_TYPE,
        externalParameters: {
          source: { uri: p.source.uri, digest: { gitCommit: p.source.commit } },
          ref: p.source.ref,
          kitfile: { digest: { sha256: digestHex(p.kitfileDigest) } },
        },
        internalParameters: { tool: p.source.tool },
        resolvedDependencies: deps,
      },
      runDetails: {
        builder: { id: KIT_BUILDER_ID, version: p.builderVersion },
        metadata: {
          invocationId: p.invocationId,
          startedOn: p.startedOn.toISOString(),
          finishedOn: p.finishedOn.toISOString(),
        },
      },
    },
  };
}
