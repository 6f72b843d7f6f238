import { defineCommand, type Context } from "../command.ts";
import { networkFlags, networkOptions, remoteContext } from "../network-flags.ts";
import { openStorage } from "../session.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import type { Manifest } from "../../oci/manifest.ts";
import { parseOrasReference, refToString, repoKey, type ModelRef } from "../../oci/reference.ts";
import { diffReport } from "../../modelkit/diff.ts";
import { inspectModelKit } from "../../modelkit/inspect.ts";
import { openSession, type RegistrySession } from "../../registry/remote.ts";
import type { NetworkOptions } from "../../registry/transport.ts";
import { LocalRepository } from "../../store/local.ts";
import { CancelledError, KitError, NotFoundError, errorMessage, hintIn } from "../../util/errors.ts";

const REMOTE_PREFIX = "remote://";
const LOCAL_PREFIX = "local://";

interface DiffInfo {
  descriptor: Descriptor;
  manifest: Manifest;
}

/** What one run needs: the network options, and local storage and a registry session opened once. */
interface DiffRun {
  ctx: Context;
  net: NetworkOptions;
  storage?: ReturnType<typeof openStorage>;
  session?: Promise<RegistrySession>;
}

/** Reads the ModelKit manifest of `ref` from its registry (verified; nothing is stored). */
export async function diffRemote(run: DiffRun, ref: ModelRef): Promise<DiffInfo> {
  const session = await (run.session ??= openSession(run.net, remoteContext(run.ctx)));
  const kit = await inspectModelKit(session.repository(ref.registry, ref.repository), ref.reference, { signal: run.ctx.signal });
  return { descriptor: kit.descriptor, manifest: kit.manifest };
}

async function diffLocal(run: DiffRun, ref: ModelRef): Promise<DiffInfo> {
  const storage = await (run.storage ??= openStorage(run.ctx));
  const kit = await inspectModelKit(new LocalRepository(storage, repoKey(ref)), ref.reference, { signal: run.ctx.signal });
  return { descriptor: kit.descriptor, manifest: kit.manifest };
}

/**
 * kit's `getManifest`: `remote://` → registry, `local://` → local storage, else local storage
 * first and the registry after any local failure. When both fail, the message says both.
 */
async function getManifest(run: DiffRun, arg: string, ref: ModelRef): Promise<DiffInfo> {
  if (arg.startsWith(REMOTE_PREFIX)) return diffRemote(run, ref);
  if (arg.startsWith(LOCAL_PREFIX)) return diffLocal(run, ref);
  try {
    return await diffLocal(run, ref);
  } catch (localErr) {
    if (localErr instanceof CancelledError || run.ctx.signal.aborted) throw localErr;
    run.ctx.log.debug(`${refToString(ref)} not read from local storage (${errorMessage(localErr)}); trying its registry`);
    try {
      return await diffRemote(run, ref);
    } catch (remoteErr) {
      if (remoteErr instanceof CancelledError || run.ctx.signal.aborted) throw remoteErr;
      const local = localErr instanceof NotFoundError ? "not found in local storage" : `cannot be read from local storage (${errorMessage(localErr)})`;
      throw new KitError(`${refToString(ref)} ${local}, and reading it from its registry failed: ${errorMessage(remoteErr)}`, {
        cause: remoteErr,
        hint: hintIn(remoteErr),
      });
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
  argCompletion: "modelkit",
  flags: { ...networkFlags },
  async run(ctx, args, flags) {
    const refA = parseArg(args[0]!, 1);
    const refB = parseArg(args[1]!, 2);
    const run: DiffRun = { ctx, net: networkOptions(flags, ctx.cwd) };
    const [a, b] = await Promise.allSettled([getManifest(run, args[0]!, refA), getManifest(run, args[1]!, refB)]);
    const failed = (n: 1 | 2, reason: unknown) => {
      if (reason instanceof CancelledError || ctx.signal.aborted) return reason;
      return new KitError(`Failed to get manifest for ModelKit${n}: ${errorMessage(reason)}`, { cause: reason, hint: hintIn(reason) });
    };
    if (a.status === "rejected") throw failed(1, a.reason);
    if (b.status === "rejected") throw failed(2, b.reason);
    if (a.value.descriptor.digest === b.value.descriptor.digest) {
      ctx.log.info("ModelKits are identical");
      return;
    }
    for (const line of diffReport(refToString(refA), refToString(refB), a.value.manifest, b.value.manifest)) ctx.log.info(line);
  },
});
