/**
 * What the signing commands (`kit key`, `sign`, `verify`, `attest`, `verify-attestation`) share,
 * and the `--verify-key` policy of `pull`, `unpack` and `dev start`: reading keys and passwords,
 * finding the ModelKit (local storage first, then its registry), and refusing an unsigned kit.
 * @module
 */
import path from "node:path";
import type { Context } from "./command.ts";
import type { FlagTable } from "./flags.ts";
import { networkFlags, networkOptions, remoteContext, type NetworkFlagValues } from "./network-flags.ts";
import { openStorage, parseLayoutArg, parseSingleRef } from "./session.ts";
import { openKit } from "../modelkit/locate.ts";
import { layoutRefToString } from "../oci/location.ts";
import { OciArchiveWriter } from "../store/oci-archive.ts";
import { OciLayoutDir } from "../store/oci-layout.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { displayRef, LOCAL_REGISTRY, refToString, repoKey, tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { LocalRepository } from "../store/local.ts";
import type { ReadOnlyTarget, Target } from "../store/target.ts";
import { openSession } from "../registry/remote.ts";
import type { NetworkOptions } from "../registry/network-options.ts";
import { loadPrivateKey, loadPublicKey, MAX_KEY_FILE_BYTES, type SigningKey, type VerificationKey } from "../sign/keys.ts";
import { dockerReference } from "../sign/simple-signing.ts";
import { SignatureError, verifyModelKit } from "../sign/verify.ts";
import { errorMessage, KitError, NotFoundError } from "../util/errors.ts";
import { fileReadableStream } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { readAll } from "../util/streams.ts";

/**
 * The network flags without `--cert`/`--key` (the client certificate): `--key` names the signing
 * or verification key here, as in cosign. The client certificate still comes from
 * KITOPS_CLIENT_CERT and KITOPS_CLIENT_KEY.
 */
const { cert: _cert, key: _key, ...rest } = networkFlags;
export const signingNetworkFlags = rest satisfies FlagTable;

export function signingNetworkOptions(flags: Omit<NetworkFlagValues, "cert" | "key">, cwd: string): NetworkOptions {
  return networkOptions({ ...flags, cert: "", key: "" }, cwd);
}

/** `--annotations k=v` values (cosign `-a`) as a map. */
export function parseAnnotations(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new KitError(`invalid annotation ${JSON.stringify(v)}: expected KEY=VALUE`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** Reads a small file (a key, a predicate) with a size bound. */
export async function readSmallFile(ctx: Context, file: string, limit: number, what: string): Promise<Uint8Array> {
  const abs = path.resolve(ctx.cwd, file);
  try {
    return await readAll(await fileReadableStream(abs, { signal: ctx.signal }), limit, ctx.signal, () => new KitError(`${what} ${file} is larger than ${limit} bytes`));
  } catch (e) {
    if (e instanceof KitError) throw e;
    throw new KitError(`failed to read ${what} ${file}: ${errorMessage(e)}`, { cause: e });
  }
}

/** Public keys from PEM files (cosign.pub). */
export async function readPublicKeys(ctx: Context, files: string[]): Promise<VerificationKey[]> {
  const keys: VerificationKey[] = [];
  for (const f of files) {
    const text = new TextDecoder().decode(await readSmallFile(ctx, f, MAX_KEY_FILE_BYTES, "public key"));
    keys.push(loadPublicKey(text, f));
  }
  return keys;
}

/**
 * The password of a private key: KIT_PASSWORD (or cosign's COSIGN_PASSWORD) when set, even
 * empty; otherwise asked on the terminal (twice when `confirm`).
 */
export async function readPassword(ctx: Context, confirm: boolean): Promise<Uint8Array> {
  const fromEnv = ctx.env.KIT_PASSWORD ?? ctx.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return new TextEncoder().encode(fromEnv);
  if (!ctx.stdin.isTTY) {
    throw new KitError("no password for the private key: set KIT_PASSWORD, or run kit on a terminal to be asked", {
      hint: "An empty KIT_PASSWORD means a key without a password",
    });
  }
  const pw = await ctx.stdin.prompt("Enter password for private key: ", true);
  if (confirm && (await ctx.stdin.prompt("Enter password for private key again: ", true)) !== pw) {
    throw new KitError("passwords do not match");
  }
  return new TextEncoder().encode(pw);
}

/** Decrypts the private key file `file` (cosign.key) with the password from {@link readPassword}. */
export async function readSigningKey(ctx: Context, file: string): Promise<SigningKey> {
  const text = new TextDecoder().decode(await readSmallFile(ctx, file, MAX_KEY_FILE_BYTES, "private key"));
  return loadPrivateKey(text, await readPassword(ctx, false), file);
}

const shown = (r: ModelRef) => displayRef(refToString(r));

/** A ModelKit found for signing or verifying: where it is, its manifest, the identity it is signed as. */
export interface FoundModelKit<T extends ReadOnlyTarget = Target> {
  ref: ModelRef;
  /** The reference as kit shows it (without `localhost/`). */
  name: string;
  target: T;
  desc: Descriptor;
  /** `local storage`, the registry's name, or the layout, for messages. */
  where: string;
  /** The repository name signatures bind to (see `dockerReference`). */
  identity: string;
  /** Completes what was written into `target` (an oci-archive: is rewritten), or drops it when `ok` is false. */
  finish(ok: boolean): Promise<void>;
}

const done = async () => {};

/**
 * Finds `arg` in its local repository, else (for a reference naming a registry) in the registry —
 * the order unpack uses — or in the `oci:`/`oci-archive:` layout it names (the identity is the
 * reference the layout's kit goes by). `write` opens the registry repository for pushing too, and
 * a layout for writing.
 */
export async function findModelKit(ctx: Context, arg: string, net: NetworkOptions, log: Logger, write: true): Promise<FoundModelKit<Target>>;
export async function findModelKit(ctx: Context, arg: string, net: NetworkOptions, log: Logger, write: false): Promise<FoundModelKit<ReadOnlyTarget>>;
export async function findModelKit(ctx: Context, arg: string, net: NetworkOptions, log: Logger, write: boolean): Promise<FoundModelKit<ReadOnlyTarget>> {
  const layout = parseLayoutArg(ctx, arg);
  if (layout) {
    const kit = (await openKit(layout, { storage: () => openStorage(ctx), signal: ctx.signal })).layoutKit!;
    const where = layoutRefToString({ ...layout, tag: undefined, digest: undefined });
    const found = { ref: kit.name, name: shown(kit.name), desc: kit.desc, where, identity: dockerReference(kit.name.registry, kit.name.repository) };
    if (!write) return { ...found, target: kit.layout, finish: done };
    if (layout.format === "oci") return { ...found, target: await OciLayoutDir.create(layout.path, { signal: ctx.signal }), finish: done };
    const w = await OciArchiveWriter.create(layout.path, { signal: ctx.signal });
    return { ...found, target: w, finish: (ok) => (ok ? w.commit({ signal: ctx.signal }) : w.discard()) };
  }
  const ref = parseSingleRef(arg, "reference");
  const name = shown(ref);
  const identity = dockerReference(ref.registry, ref.repository);
  const local = new LocalRepository(await openStorage(ctx), repoKey(ref));
  try {
    return { ref, name, target: local, desc: await local.resolve(tagOrDigest(ref), { signal: ctx.signal }), where: "local storage", identity, finish: done };
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  if (ref.registry === LOCAL_REGISTRY) throw new KitError(`ModelKit ${name} not found in local storage`);
  const session = await openSession(net, remoteContext(ctx, log));
  const repo = session.repository(ref.registry, ref.repository, write ? { actions: ["pull", "push"] } : {});
  try {
    return { ref, name, target: repo, desc: await repo.resolve(tagOrDigest(ref), { signal: ctx.signal }), where: ref.registry, identity, finish: done };
  } catch (e) {
    if (e instanceof NotFoundError) throw new KitError(`ModelKit ${name} not found in local storage or in ${ref.registry}`, { cause: e });
    throw e;
  }
}

/** Runs `fn` on the kit's store for writing, then {@link FoundModelKit.finish}es it (dropping the writes after a failure). */
export async function writeFound<R>(kit: FoundModelKit<Target>, fn: (target: Target) => Promise<R>): Promise<R> {
  let r: R;
  try {
    r = await fn(kit.target);
  } catch (e) {
    await kit.finish(false).catch(() => {});
    throw e;
  }
  await kit.finish(true);
  return r;
}

// ----- --verify-key on pull, unpack and dev start ----------------------------------------------

export const verifyKeyFlags = {
  "verify-key": {
    type: "stringArray",
    help: "Refuse the ModelKit unless one of its signatures verifies with this public key (cosign.pub); repeatable (default from KIT_VERIFY_KEY, comma-separated)",
  },
} satisfies FlagTable;

/** The `--verify-key` files, else those in KIT_VERIFY_KEY. */
export function verifyKeyFiles(ctx: Context, flagValues: string[]): string[] {
  if (flagValues.length) return flagValues;
  return (ctx.env.KIT_VERIFY_KEY ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** Checks the signature of a ModelKit before anything of it is written (pull, unpack, dev start). */
export type SignatureCheck = (source: ReadOnlyTarget, ref: ModelRef, desc?: Descriptor) => Promise<Descriptor | undefined>;

/**
 * The `--verify-key` policy (`keyFiles`, else KIT_VERIFY_KEY): when keys are given, the ModelKit
 * `ref` (its manifest `desc`, or what `ref` resolves to in `source`) must carry a signature by one
 * of them for its repository, or the check throws before anything is written. It returns the
 * verified manifest; without keys it does nothing and returns undefined. `log` hears of success.
 */
export function signatureCheck(ctx: Context, keyFiles: string[], log: Logger): SignatureCheck {
  const files = verifyKeyFiles(ctx, keyFiles);
  // Read once, for every ModelKit the command checks (a pull's referenced kits too).
  let keys: Promise<VerificationKey[]> | undefined;
  return async (source, ref, desc) => {
    if (files.length === 0) return undefined;
    keys ??= readPublicKeys(ctx, files);
    const manifest = desc ?? await source.resolve(tagOrDigest(ref), { signal: ctx.signal });
    const identity = dockerReference(ref.registry, ref.repository);
    try {
      const verified = await verifyModelKit(source, manifest, await keys, identity, { signal: ctx.signal });
      log.info(`Verified signature of ${shown(ref)} (${manifest.digest}) with ${verified.map((v) => v.key.name).join(", ")}`);
      return manifest;
    } catch (e) {
      if (e instanceof SignatureError) {
        throw new KitError(`refusing ${shown(ref)}: ${e.message}`, { cause: e, hint: e.hint ?? "Check the key given with --verify-key (or KIT_VERIFY_KEY)" });
      }
      throw e;
    }
  };
}
