import { defineCommand } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage, parseSingleRef, startProgress } from "../session.ts";
import { requireSignature, verifyKeyFlags } from "../signing.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import { artifactKind, parseManifest } from "../../oci/manifest.ts";
import { OCI_MANIFEST } from "../../oci/media-types.ts";
import { LOCAL_REGISTRY, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { MAX_MODEL_REF_CHAIN, modelReference } from "../../modelkit/modelref.ts";
import { readModelKit } from "../../modelkit/unpack.ts";
import { openSession, type RegistrySession } from "../../registry/remote.ts";
import type { RemoteRepository } from "../../registry/repository.ts";
import { downloadBlobs, PullSource } from "../../registry/transfer.ts";
import { copyAttachments } from "../../sign/attachments.ts";
import { copy } from "../../store/copy.ts";
import { successorsOf } from "../../store/target.ts";
import type { LayoutStore } from "../../store/layout.ts";
import { LocalRepository } from "../../store/local.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import type { Progress } from "../../util/progress.ts";

interface PullRun {
  session: RegistrySession;
  storage: LayoutStore;
  concurrency: number;
  log: Logger;
  progress: Progress;
  signal: AbortSignal;
  /** The --verify-key check of each kit, before anything of it is stored. */
  verify: (source: RemoteRepository, ref: ModelRef, desc: Descriptor) => Promise<unknown>;
}

/**
 * Pulls `ref` into its local repository, then its model-reference parents, each into its own
 * repository (kit tags parents inside the child's repository [quirk]; that is not copied, so a
 * pulled chain unpacks offline).
 */
async function pullRef(run: PullRun, ref: ModelRef, visited: string[]): Promise<Descriptor> {
  const r = refToString(ref);
  const remote = run.session.repository(ref.registry, ref.repository);
  let fetched;
  try {
    fetched = await remote.fetchManifest(ref.reference, { signal: run.signal });
  } catch (e) {
    if (e instanceof NotFoundError) throw new NotFoundError(`${r}: not found`, { cause: e });
    throw e;
  }
  const { desc, bytes } = fetched;
  if (desc.mediaType !== OCI_MANIFEST) throw new KitError(`reference ${r} is not an image manifest`);
  if (artifactKind(parseManifest(bytes)) === "other") throw new KitError(`reference ${r} does not refer to a model`);
  await run.verify(remote, ref, desc);
  // Blobs first, each resumable; the copy then records the manifest and the tag.
  await downloadBlobs(run.storage, remote, successorsOf(desc, bytes), {
    concurrency: run.concurrency,
    signal: run.signal,
    progress: run.progress,
    logger: run.log,
  });
  const source = new PullSource(remote);
  source.remember(desc, bytes);
  const local = new LocalRepository(run.storage, repoKey(ref));
  await copy(source, desc.digest, local, ref.reference, { concurrency: run.concurrency, signal: run.signal });
  // Signatures and attestations (sha256-<hex>.sig/.att) come along, for --verify-key later.
  await copyAttachments(remote, local, desc.digest, { signal: run.signal });

  const kit = await readModelKit(local, desc.digest, { signal: run.signal, logger: run.log });
  const parentPath = kit.kitfile.model?.path;
  const parent = modelReference(parentPath);
  if (parent) {
    try {
      const key = refToString(parent);
      if (visited.includes(key)) throw new KitError(`found cycle in modelkit references: [${[...visited, key].join("=>")}]`);
      // `visited` holds the kit and its ancestors so far: up to 10 ancestors, as pack and unpack
      // allow (kit's pull stops at 9 [quirk]).
      if (visited.length > MAX_MODEL_REF_CHAIN) {
        throw new KitError(`reached maximum number of model references: [${[...visited, key].join("=>")}]`);
      }
      run.log.info(`Pulling referenced image ${parentPath}`);
      await pullRef(run, parent, [...visited, key]);
    } catch (e) {
      // Wrapped once, where the chain starts.
      if (e instanceof CancelledError || visited.length > 1) throw e;
      throw new KitError(`failed to pull referenced modelkits: ${errorMessage(e)}`, { cause: e });
    }
  }
  return desc;
}

export const pullCommand = defineCommand({
  name: "pull",
  use: "pull [flags] REGISTRY/REPOSITORY[:TAG|@DIGEST]",
  short: "Retrieve modelkits from a remote registry to your local environment",
  long: `Download a ModelKit from a registry into local storage.

Blobs already in local storage are not downloaded again. A download that is interrupted — a
dropped connection, or the command itself stopped — continues from where it stopped the next
time. ModelKits that the model refers to (model.path naming another ModelKit) are pulled too.`,
  example: `  # Pull a ModelKit by tag
  kit pull registry.example.com/myorg/mymodel:v1

  # Pull by digest from a registry on localhost over plain HTTP
  kit pull localhost:5000/mymodel@sha256:<digest> --plain-http`,
  args: { min: 1, max: 1 },
  flags: { ...networkFlags, ...verifyKeyFlags },
  async run(ctx, args, flags) {
    const net = networkOptions(flags, ctx.cwd);
    const ref = parseSingleRef(args[0]!, "reference");
    if (ref.registry === LOCAL_REGISTRY) throw new KitError("Invalid arguments: registry is required when pulling");

    const storage = await openStorage(ctx);
    const ui = startProgress(ctx);
    try {
      const session = await openSession(net, remoteContext(ctx, ui.log));
      ui.log.info(`Pulling ${refToString(ref)}`);
      const desc = await pullRef(
        {
          session, storage, concurrency: net.concurrency, log: ui.log, progress: ui.progress, signal: ctx.signal,
          verify: (source, r, desc) => requireSignature(ctx, flags["verify-key"], source, r, ui.log, desc),
        },
        ref,
        [refToString(ref)],
      );
      await storage.pruneIngest().catch(() => 0);
      ui.close();
      ctx.log.info(`Pulled ${desc.digest}`);
    } catch (e) {
      ui.close();
      if (e instanceof CancelledError || ctx.signal.aborted) throw e;
      throw new KitError(`failed to pull: ${errorMessage(e)}`, { cause: e, hint: hintIn(e) });
    }
  },
});
