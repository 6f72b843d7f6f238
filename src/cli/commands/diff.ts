import { defineCommand, type Context } from "../command.ts";
import { openStorage } from "../session.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import type { Manifest } from "../../oci/manifest.ts";
import { parseOrasReference, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { diffReport } from "../../pack/diff.ts";
import { inspectModelKit } from "../../pack/inspect.ts";
import { LocalRepository } from "../../store/local.ts";
import { KitError, NotFoundError } from "../../util/errors.ts";

const REMOTE_PREFIX = "remote://";
const LOCAL_PREFIX = "local://";

interface DiffInfo {
  descriptor: Descriptor;
  manifest: Manifest;
}

/** Thrown while reading from a registry is not available in this build. */
class RegistryClientMissingError extends KitError {
  override name = "RegistryClientMissingError";
}

/**
 * Reads a manifest from its registry. That needs the registry client, which this build does not
 * include yet; it is the one place to plug it in (for `remote://` and the fallback).
 */
export async function diffRemote(_ctx: Context, ref: ModelRef): Promise<DiffInfo> {
  throw new RegistryClientMissingError(`reading ${refToString(ref)} from a registry needs the registry client, which this build of kit does not include yet`);
}

/** Local storage, opened once per run (both references may need it at the same time). */
const storages = new WeakMap<Context, ReturnType<typeof openStorage>>();

async function diffLocal(ctx: Context, ref: ModelRef): Promise<DiffInfo> {
  let opening = storages.get(ctx);
  if (!opening) storages.set(ctx, (opening = openStorage(ctx)));
  const storage = await opening;
  const kit = await inspectModelKit(new LocalRepository(storage, repoKey(ref)), ref.reference, { signal: ctx.signal });
  return { descriptor: kit.descriptor, manifest: kit.manifest };
}

/** kit's `getManifest`: `remote://` → registry, `local://` → local storage, else local then registry. */
async function getManifest(ctx: Context, arg: string, ref: ModelRef): Promise<DiffInfo> {
  if (arg.startsWith(REMOTE_PREFIX)) return diffRemote(ctx, ref);
  if (arg.startsWith(LOCAL_PREFIX)) return diffLocal(ctx, ref);
  try {
    return await diffLocal(ctx, ref);
  } catch (localErr) {
    if (localErr instanceof KitError && localErr.name === "CancelledError") throw localErr;
    try {
      return await diffRemote(ctx, ref);
    } catch (remoteErr) {
      if (remoteErr instanceof RegistryClientMissingError) {
        const local = localErr instanceof NotFoundError ? `${refToString(ref)} not found in local storage` : `cannot read ${refToString(ref)} from local storage: ${(localErr as Error).message}`;
        throw new KitError(`${local}, and ${remoteErr.message}`, { cause: localErr });
      }
      throw remoteErr;
    }
  }
}

function parseArg(arg: string, n: 1 | 2): ModelRef {
  const name = arg.startsWith(REMOTE_PREFIX) ? arg.slice(REMOTE_PREFIX.length) : arg;
  const stripped = name.startsWith(LOCAL_PREFIX) ? name.slice(LOCAL_PREFIX.length) : name;
  try {
    return parseOrasReference(stripped);
  } catch (e) {
    throw new KitError(`Invalid arguments: failed to parse reference for ref${n}: ${(e as Error).message}`, { cause: e });
  }
}

export const diffCommand = defineCommand({
  name: "diff",
  use: "diff <ModelKit1> <ModelKit2>",
  short: "Compare two ModelKits",
  long: `Compare two ModelKits to see the differences in their layers.

ModelKits can be specified from either a local or from a remote registry. References name the
registry explicitly (e.g. localhost/mymodel:v1). To specify a local ModelKit, prefix the
reference with 'local://', e.g. 'local://jozu.ml/foo/bar:v1'. To specify a remote ModelKit,
prefix the reference with 'remote://', e.g. 'remote://jozu.ml/foo/bar:v1'. If no prefix is
specified, the local storage is checked first.`,
  example: `  # Compare two local ModelKits
  kit diff localhost/mymodel:v1 localhost/mymodel:v2

  # Compare two ModelKits from a remote registry
  kit diff remote://jozu.ml/foo:champion remote://jozu.ml/bar:latest

  # Compare local ModelKit with a remote ModelKit
  kit diff local://jozu.ml/foo:latest remote://jozu.ml/foo:latest`,
  args: { min: 2, max: 2 },
  flags: {},
  async run(ctx, args) {
    const refA = parseArg(args[0]!, 1);
    const refB = parseArg(args[1]!, 2);
    const [a, b] = await Promise.allSettled([getManifest(ctx, args[0]!, refA), getManifest(ctx, args[1]!, refB)]);
    if (a.status === "rejected") throw new KitError(`Failed to get manifest for ModelKit1: ${(a.reason as Error).message}`, { cause: a.reason });
    if (b.status === "rejected") throw new KitError(`Failed to get manifest for ModelKit2: ${(b.reason as Error).message}`, { cause: b.reason });
    if (a.value.descriptor.digest === b.value.descriptor.digest) {
      ctx.log.info("ModelKits are identical");
      return;
    }
    for (const line of diffReport(refToString(refA), refToString(refB), a.value.manifest, b.value.manifest)) ctx.log.info(line);
  },
});
