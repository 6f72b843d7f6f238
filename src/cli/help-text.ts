/**
 * The long descriptions and examples of the commands' help (cobra's Long and Example), by command
 * path, for the commands whose help runs over more than one line. A command file spreads its entry
 * into its definition and so stays a flag table and a call into the domain. Only the commands
 * import this module (`kit version` and `kit --help` do not load it).
 * @module
 */

export const HELP = {
  pack: {
    long: `Pack a ModelKit from a directory and its Kitfile into local storage.

The Kitfile (Kitfile, kitfile or .kitfile in DIRECTORY, or the file given with -f) lists the
model, datasets, code, docs, prompts and MCP servers; each entry becomes one layer. Files matched
by DIRECTORY/.kitignore are left out. The ModelKit is stored under the --tag reference, or
untagged when no tag is given.`,
    example: `  # Pack the current directory and tag it
  kit pack . -t registry.example.com/myorg/mymodel:v1

  # Use a Kitfile from elsewhere, compress layers with gzip
  kit pack ./project -f ./Kitfile.prod -t mymodel:prod --compression gzip

  # Write the CNCF ModelPack format
  kit pack . -t mymodel:v1 --use-model-pack

  # Write exactly what kit v1.7 writes (older readers, reproducible digests)
  kit pack . -t mymodel:v1 --compat v1.7`,
  },
  unpack: {
    long: `Produces all or selected components of a ModelKit on the local filesystem.

Components (the Kitfile, model, datasets, code, docs, prompts and MCP servers) are restored to
the directory given with --dir, or the current directory. Select components with --filter
TYPES[:NAMES], e.g. --filter model or --filter datasets:training,validation; names match an
entry's name or path. Every byte is checked against its digest; archives that try to write
outside the target directory are refused.

MODELKIT may also be an OCI image layout: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST]
(read in place; nothing is stored).`,
    example: `  # Unpack everything into ./my-model
  kit unpack mymodel:latest -d ./my-model

  # Unpack only the model and the Kitfile, replacing existing files
  kit unpack mymodel:latest --filter=model,kitfile -o

  # Unpack one dataset by name
  kit unpack mymodel:latest --filter=datasets:validation

  # Unpack straight from a tar file written by kit push
  kit unpack oci-archive:mymodel.tar -d ./my-model`,
  },
  push: {
    long: `Push a ModelKit from local storage to a registry, or to and from an OCI image layout.

SOURCE names a ModelKit in local storage; it is uploaded to DESTINATION, or to the same
reference when no destination is given (SOURCE must then name a registry). Blobs the registry
already has are not uploaded again; a failed upload is retried in a fresh upload session.

For transfers without a registry (air-gapped servers), SOURCE and DESTINATION may also be an
OCI image layout in skopeo's spelling: oci:DIR[:TAG|@DIGEST] (a directory) or
oci-archive:FILE[:TAG|@DIGEST] (a tar file). A layout holds any number of ModelKits; pushing into
an existing one adds the ModelKit and keeps the others. Without a TAG the source's tag is used.
The ModelKit's full reference is recorded in the layout, so kit pull restores it on the far
side. PATH ends at its first ':' (a Windows drive letter such as C:\ excepted). Signatures and
attestations travel with the ModelKit.`,
    example: `  # Push a ModelKit packed as registry.example.com/myorg/mymodel:v1
  kit push registry.example.com/myorg/mymodel:v1

  # Push a local ModelKit to a registry under another name
  kit push mymodel:v1 registry.example.com/myorg/mymodel:v1

  # A registry on localhost over plain HTTP
  kit push localhost:5000/mymodel:v1 --plain-http

  # Write a ModelKit into a tar file to carry across an air gap, then push it on from there
  kit push registry.example.com/myorg/mymodel:v1 oci-archive:mymodel.tar
  kit push oci-archive:mymodel.tar registry.internal/myorg/mymodel:v1`,
  },
  pull: {
    long: `Download a ModelKit from a registry into local storage.

Blobs already in local storage are not downloaded again. A download that is interrupted — a
dropped connection, or the command itself stopped — continues from where it stopped the next
time. ModelKits that the model refers to (model.path naming another ModelKit) are pulled too.

SOURCE is a registry reference REGISTRY/REPOSITORY[:TAG|@DIGEST], or an OCI image layout in
skopeo's spelling: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST] (no network is used).
The ModelKit is stored under DESTINATION when given, otherwise under its own reference: for a
layout written by kit push, the reference it had when it was written. Without a TAG, a layout
must hold exactly one ModelKit.`,
    example: `  # Pull a ModelKit by tag
  kit pull registry.example.com/myorg/mymodel:v1

  # Pull by digest from a registry on localhost over plain HTTP
  kit pull localhost:5000/mymodel@sha256:<digest> --plain-http

  # Bring a ModelKit in from a tar file written by kit push (air-gapped servers)
  kit pull oci-archive:mymodel.tar

  # ... under another name
  kit pull oci-archive:mymodel.tar:v1 internal/mymodel:v1`,
  },
  tag: {
    long: `Create or update a tag {target-modelkit} that refers to {source-modelkit}

This command assigns a new tag to an existing modelkit (source-modelkit) or updates an existing
tag. When the target names another repository, the modelkit is added to that repository too;
its blobs are shared in local storage, so nothing is copied.

A full modelkit reference has the following format:

[HOST[:PORT_NUMBER]/][NAMESPACE/]REPOSITORY[:TAG]

  * HOST: Optional. The registry hostname where the ModelKit is located. Defaults to localhost
    if unspecified.
  * PORT_NUMBER: Optional. The registry's port number if a hostname is provided.
  * NAMESPACE: A user or organization's namespace: slash-separated components of lowercase
    letters, digits, and separators (periods, underscores, hyphens).
  * REPOSITORY: The name of the repository, typically the modelkit's name.
  * TAG: A human-readable identifier for the modelkit version or variant: letters, digits,
    underscores, periods, and hyphens, not starting with a period or hyphen, at most 128
    characters.`,
    example: `  kit tag myregistry.com/myrepo/mykit:latest myregistry.com/myrepo/mykit:v1.0.0`,
  },
  list: {
    long: `Displays a list of modelkits available in a repository.

Without REPOSITORY, lists the ModelKits in local storage; with it, the ModelKits of that remote
repository: every tag, or only the tag or digest the argument names. An OCI image layout,
oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST], lists the ModelKits inside it, each under
the reference it was written from. Artifacts in the repository
that are not ModelKits are skipped. Each ModelKit is shown once per tag with its repository,
maintainer, name, the total size of its layers and its digest.

Use --filter TYPES[:NAMES] (repeatable) to show only ModelKits with at least one matching layer,
e.g. --filter datasets or --filter model:my-model.

Use the --format flag to change how results are printed. Valid values are "table", "json", or a
Go template executed once per listed modelkit.

Template placeholders:

  {{ .Repo }} - repository name
  {{ .Tags }} - slice of tags for the modelkit
  {{ index .Tags 0 }} - the first tag (an error for untagged modelkits)
  {{ .Digest }} - digest of the modelkit
  {{ .ModelName }} - name defined in the Kitfile
  {{ .Size }} - total size of the modelkit
  {{ .Author }} - author from the Kitfile

Go's template actions and functions work (range, if, with, printf, len, index, …),
plus json: {{ json . }} prints the modelkit as JSON.`,
    example: `  # List local modelkits
  kit list

  # List local modelkits that contain a dataset, as JSON
  kit list --filter datasets --format json

  # Print one line per modelkit with a template
  kit list --format '{{ .Repo }} {{ .Digest }}'

  # List every modelkit (all tags) of a remote repository
  kit list registry.example.com/my-namespace/my-model

  # List one tag of a remote repository
  kit list registry.example.com/my-namespace/my-model:v1

  # List the modelkits in a tar file written by kit push
  kit list oci-archive:models.tar`,
  },
  inspect: {
    long: `Print the contents of a modelkit manifest to the screen.

Prints a JSON document with the ModelKit's digest, the version of kit that packed it, its Kitfile
(with layer digests) and its OCI manifest. By default, kit reads local storage; to inspect a
modelkit stored on a remote registry, use the --remote flag. MODELKIT may also be an OCI image
layout: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
    example: `  # Inspect a local modelkit:
  kit inspect mymodel:mytag

  # Inspect a local modelkit by digest:
  kit inspect mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Inspect a remote modelkit:
  kit inspect --remote registry.example.com/my-model:1.0.0

  # Inspect a modelkit in a tar file written by kit push:
  kit inspect oci-archive:my-model.tar`,
  },
  info: {
    long: `Print the contents of a modelkit config to the screen.

Prints the ModelKit's Kitfile as YAML. Use --filter with a dot path (.package.name, model.path,
datasets, ...) to print a single value. By default, kit reads local storage; to see the
configuration for a modelkit stored on a remote registry, use the --remote flag. MODELKIT may
also be an OCI image layout: oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
    example: `  # See configuration for a local modelkit:
  kit info mymodel:mytag

  # See configuration for a local modelkit by digest:
  kit info mymodel@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

  # Print only the package name
  kit info mymodel:mytag --filter .package.name

  # See configuration for a remote modelkit:
  kit info --remote registry.example.com/my-model:1.0.0

  # See configuration for a modelkit in an OCI layout directory:
  kit info oci:./models:v1`,
  },
  remove: {
    long: `Removes a modelkit from storage on the local disk or from a remote registry.

The model to be removed may be specifed either by a tag or by a digest. If specified by digest,
that modelkit will be removed along with any tags that might refer to it. If specified by tag
(and the --force flag is not used), the modelkit will only be removed if no other tags refer to
it; otherwise it is only untagged. Blobs no remaining modelkit uses are deleted from storage.

When removing modelkits in a remote registry, if the modelkit is specified by digest, the
modelkit will be deleted on the remote (if supported), removing any tags that might refer to it.
If the modelkit is specified with a tag (and the --force flag is not used), it will only be
untagged. If the --force flag is used, the modelkit and all tags referring to it will be removed.`,
    example: `  # Remove modelkit by tag
  kit remove my-registry.com/my-org/my-repo:my-tag

  # Remove modelkit by digest
  kit remove my-registry.com/my-org/my-repo@sha256:<digest>

  # Remove multiple tags for a modelkit
  kit remove my-registry.com/my-org/my-repo:tag1,tag2,tag3

  # Remove all untagged modelkits
  kit remove --all

  # Remove all locally stored modelkits
  kit remove --all --force

  # Untag a remote modelkit
  kit remove --remote my-registry.com/my-org/my-repo:my-tag

  # Delete a remote modelkit and all tags referring to it
  kit remove --remote my-registry.com/my-org/my-repo@sha256:<digest>

  # Delete a remote modelkit and all its tags without using a digest
  kit remove --remote --force my-registry.com/my-org/my-repo:my-tag`,
  },
  login: {
    long: `Log in to an OCI registry and store the credential in kit's credentials file.

The credential is checked against the registry before it is stored; a refused credential is not
stored. Without --password or --password-stdin, kit asks for the username and password on the
terminal. A password given without a username is stored as an identity (refresh) token.`,
    example: `  # Log in interactively
  kit login ghcr.io

  # Log in with a password from standard input (scripts, CI)
  echo "$TOKEN" | kit login ghcr.io -u myuser --password-stdin`,
  },
  logout: {
    long: `Remove the credential stored for a registry.

Only kit's own credentials file (or the credential helper it names) is changed; Docker's
configuration is never written. Logging out of a registry with no stored credential is not an error.`,
    example: `  # Log out from ghcr.io
  kit logout ghcr.io`,
  },
  diff: {
    long: `Compare two ModelKits to see the differences in their layers.

ModelKits can be specified from either a local or from a remote registry. References name the
registry explicitly (e.g. localhost/mymodel:v1). To specify a local ModelKit, prefix the
reference with 'local://', e.g. 'local://jozu.ml/foo/bar:v1'. To specify a remote ModelKit,
prefix the reference with 'remote://', e.g. 'remote://jozu.ml/foo/bar:v1'. If no prefix is
specified, the local storage is checked first. An OCI image layout is named
oci:DIR[:TAG|@DIGEST] or oci-archive:FILE[:TAG|@DIGEST].`,
    example: `  # Compare two local ModelKits
  kit diff localhost/mymodel:v1 localhost/mymodel:v2

  # Compare two ModelKits from a remote registry
  kit diff remote://jozu.ml/foo:champion remote://jozu.ml/bar:latest

  # Compare local ModelKit with a remote ModelKit
  kit diff local://jozu.ml/foo:latest remote://jozu.ml/foo:latest

  # Compare a local ModelKit with the one in a tar file
  kit diff localhost/mymodel:v1 oci-archive:mymodel.tar`,
  },
  fsck: {
    long: `Checks local storage against its own digests and sizes.

Every blob is hashed (as it streams, so memory stays small), every ModelKit's manifest, config and
layers are checked to be stored, sound and of the size the manifest says, tags and index entries
to name stored manifests. Blobs that no ModelKit uses are reported as orphans. With MODELKIT
arguments only those ModelKits are checked.

With --repair, damaged blobs and orphans are removed, and a damaged ModelKit is fetched again
from its registry (with the network flags, as kit pull). A ModelKit that was only packed
locally cannot be fetched: pack it again, or remove it with kit remove. The command fails when
damage remains.`,
    example: `  # Check all of local storage
  kit fsck

  # Check one ModelKit
  kit fsck registry.example.com/myorg/sentiment:v1

  # Remove the damage and fetch damaged ModelKits again
  kit fsck --repair`,
  },
  sign: {
    long: `Sign a ModelKit's manifest digest with a private key, in cosign's format.

The signature is stored next to the ModelKit, under the tag sha256-<digest>.sig of its
repository, where cosign and containers/image look for it; signing again with another key adds
a signature. A ModelKit in local storage is signed there (kit push carries the signature to
the registry with the kit); otherwise it is signed in its registry. A ModelKit in an OCI layout
(oci:DIR[:TAG], oci-archive:FILE[:TAG]) is signed in the layout. No transparency log is
used, so signing works offline. The key's password is read from KIT_PASSWORD (or
COSIGN_PASSWORD), otherwise asked on the terminal.`,
    example: `  # Sign a ModelKit in local storage
  kit sign registry.example.com/org/model:v1 --key cosign.key

  # Sign in the registry, with annotations in the signed payload
  kit sign registry.example.com/org/model:v1 --key cosign.key -a team=ml -a stage=prod`,
  },
  verify: {
    long: `Verify the signatures of a ModelKit (cosign's format) with one or more public keys.

Every signature stored for the ModelKit's digest is checked: it must verify with one of the
keys, sign exactly this manifest digest, and name this repository. The command prints the
signatures that verified, and fails with the reason when none does (unsigned, another key, a
payload for another digest or repository, a changed payload or signature). The ModelKit is read
from local storage when it is there, otherwise from its registry, or from the OCI layout
(oci:DIR[:TAG], oci-archive:FILE[:TAG]) the argument names, where the repository is the one the
layout recorded for it. No transparency log is consulted, so verification works offline.`,
    example: `  kit verify registry.example.com/org/model:v1 --key cosign.pub

  # Require an annotation in the signed payload
  kit verify registry.example.com/org/model:v1 --key cosign.pub -a stage=prod`,
  },
  /** `predicateTypes`: the names of the predicate types kit knows. */
  attest: (predicateTypes: string) => ({
    long: `Attach an in-toto attestation to a ModelKit, signed with a private key, in cosign's format.

The predicate file (for example the SLSA provenance kit import --attestation-output writes) is
wrapped in an in-toto statement about the ModelKit's digest, signed in a DSSE envelope and
stored under the tag sha256-<digest>.att, where cosign verify-attestation finds it. --type
names the predicate: ${predicateTypes}, or a predicate type URI.
Like kit sign, it writes to local storage when the ModelKit is there, else to its registry.`,
    example: `  kit attest registry.example.com/org/model:v1 --predicate provenance.json --type slsaprovenance1 --key cosign.key`,
  }),
  verifyAttestation: {
    long: `Verify the in-toto attestations attached to a ModelKit (kit attest, cosign attest).

Each attestation must be a DSSE envelope signed by one of the keys, whose statement names this
ModelKit's digest and repository as its subject, and, with --type, has that predicate type.
The command prints the attestations that verified and fails with the reason when none does.
With --output-predicates the verified statements are printed as JSON, one per line.`,
    example: `  kit verify-attestation registry.example.com/org/model:v1 --key cosign.pub --type slsaprovenance1`,
  },
  keyGenerate: {
    long: `Generate an ECDSA P-256 key pair for signing ModelKits, in cosign's format.

The private key is written to cosign.key, encrypted with a password (scrypt and NaCl
secretbox, as cosign generate-key-pair does); the public key to cosign.pub. The password is
read from KIT_PASSWORD (or COSIGN_PASSWORD) when set, otherwise asked on the terminal. Give
cosign.pub to whoever verifies your ModelKits; keep cosign.key secret.`,
    example: `  # Generate cosign.key and cosign.pub in the current directory
  kit key generate

  # Non-interactively, as release/signing.key and release/signing.pub
  KIT_PASSWORD=... kit key generate --output-key-prefix release/signing`,
  },
  init: {
    long: `Examine the contents of a directory and attempt to generate a basic Kitfile
based on common file formats. Any files whose type (i.e. model, dataset, etc.)
cannot be determined will be included in a code layer.

With --remote, the files of a Hugging Face repository (org/name or its URL) are examined
instead, at --ref, without downloading them; the Kitfile is printed unless -o (or PATH) says
where to write it. HF_ENDPOINT sets another Hub address; --token (or HF_TOKEN) reads private
repositories.

By default the command will prompt for input for a name and description for the Kitfile
when run on a terminal. Without a name (given, answered or found in a SKILL.md), the package
is named after the directory.`,
    example: `  # Generate a Kitfile for the current directory:
  kit init .

  # Generate a Kitfile for files in ./my-model, with name "mymodel" and a description:
  kit init ./my-model --name "mymodel" --desc "This is my model's description"

  # Print the generated Kitfile instead of saving it:
  kit init ./my-model -o -

  # The Kitfile kit import would generate for a Hugging Face repository:
  kit init --remote myorg/myrepo --ref v1.0`,
  },
  skill: {
    long: `Install a SKILL.md that teaches an AI coding agent how to use the kit CLI.

The skill covers writing a Kitfile and the pack, tag, login, push, pull and unpack workflow. It
is embedded in the kit binary, so it matches this kit and needs no network access.

The skill is written into each agent's skills directory (for example '.claude/skills' or the
shared '.agents/skills'), as the directory 'kitops'. Without --agents, the agents whose
configuration directory exists in your home directory are used; --agents takes a
comma-separated list (e.g. --agents=claude-code,cursor). The skill is installed for your user
unless -d names a project directory to install it into.`,
    example: `  # Install the kit skill for the agents found on this machine (user-wide)
  kit skill

  # Install for specific agents
  kit skill --agents=claude-code,cursor

  # Install into a project directory
  kit skill -d /path/to/project

  # Replace an existing installation
  kit skill -o`,
  },
  import: {
    long: `Download a repository from Hugging Face (or any git repository) and package it as a
ModelKit.

The repository is given as org/name, as a URL (https://huggingface.co/org/name, also
datasets/org/name), or as a git URL or path. A Kitfile is generated from the repository's
files with the same rules as 'kit init' (or given with --file). On a terminal, kit offers to
edit it before packing, using the editor in the EDITOR environment variable. Only the files
the Kitfile packs are downloaded.

Hugging Face downloads run in parallel (--concurrency), continue where they stopped after a
broken connection or an interrupted run, and are checked against the sizes and sha256
digests of the repository listing; a mismatch stops the import before anything is tagged.
The token (--token, or the HF_TOKEN environment variable) is sent only to the Hub itself,
never to the servers its downloads redirect to. HF_ENDPOINT sets another Hub address
(a mirror or proxy), as for Hugging Face's own tools.

The download tool is chosen with --tool:

  --tool=hf  : the Hugging Face API. REPOSITORY must be a Hugging Face repository. The
               default for Hugging Face repositories.
  --tool=git : a shallow clone with git (and git-lfs when the repository uses it). Works
               for any git repository; needs git installed.

--attestation-output writes an in-toto statement with SLSA provenance (source, ref,
commit, every imported file's sha256; the ModelKit's digest as the subject).`,
    example: `  # Import myorg/myrepo, tagged myorg/myrepo:latest
  kit import myorg/myrepo

  # Import another branch, tag or commit and choose the tag
  kit import myorg/myrepo --ref v1.0.0 --tag myrepository:v1

  # A private repository, with provenance written next to it
  HF_TOKEN=hf_... kit import myorg/private --attestation-output provenance.json

  # Pack with an existing Kitfile, or import any git repository
  kit import myorg/myrepo --file ./path/to/Kitfile
  kit import https://git.example.com/team/model.git --tag team/model:latest`,
  },
  devStart: {
    long: `Start development server (experimental) from a modelkit

Start a development server for a modelkit. You can provide either:
- A directory path containing an unpacked modelkit with a Kitfile
- A ModelKit reference in the format registry/repository[:tag|@digest]
  (e.g., myrepo/my-model:latest) which will be automatically extracted
  to a cache directory

When using a ModelKit reference, only the model components are extracted
to optimize startup time.

The model must be in GGUF format: model.path names a .gguf file, or a directory
holding exactly one. The server runs llama.cpp in the background and serves a chat
page and an OpenAI-compatible API (/v1/chat/completions, /v1/completions,
/v1/models) at the printed address. It needs no network access.`,
    example: `  # Serve the model located in the current directory
  kit dev start

  # Serve the modelkit in ./my-model on port 8080
  kit dev start ./my-model --port 8080

  # Serve a ModelKit reference from local storage or registry
  kit dev start myrepo/my-model:latest

  # Serve a specific model with custom host and port
  kit dev start registry.example.com/models/llama2:7b --host 0.0.0.0 --port 8080`,
  },
  devLogs: {
    long: `Print any logs output by the development server.

If the development server is currently running, the logs for this server will
be printed. If it is stopped, the logs for the previous run of the server, if
available, will be printed instead.`,
  },
  devServe: {
    long: `Run the development server in the foreground until interrupted. "kit dev start" runs
this in the background; it can also be used directly (for example in a container).`,
  },
};
