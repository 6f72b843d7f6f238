/**
 * Where a ModelKit argument points (docs/format.md#oci-layouts): kit's own reference (local storage
 * or a registry), or an OCI image layout in skopeo's spelling, `oci:PATH[:TAG|@DIGEST]` (a
 * directory) or `oci-archive:PATH[:TAG|@DIGEST]` (a tar file holding one). Parsed once, here; the
 * name a layout's ModelKit goes by in local storage is derived here too.
 * @module
 */
import { KitError } from "../util/errors.ts";
import { digestProblem } from "./digest.ts";
import { ANNOTATION_CONTAINERD_NAME, ANNOTATION_KIT_REFERENCE, ANNOTATION_REF_NAME } from "./media-types.ts";
import { DEFAULT_TAG, isModelRef, isTag, LOCAL_REGISTRY, parseOrasReference, parseReference, refToString, withTag, type ModelRef } from "./reference.ts";

export type LayoutFormat = "oci" | "oci-archive";

/** An OCI image layout and, optionally, one manifest in it: by its tag (`ref.name`) or its digest. */
export interface LayoutRef {
  readonly kind: "layout";
  readonly format: LayoutFormat;
  /** The directory (`oci`) or tar file (`oci-archive`), as given or made absolute by the caller. */
  readonly path: string;
  /** The `org.opencontainers.image.ref.name` of the manifest, when given. */
  readonly tag?: string;
  /** The manifest digest, when given (never together with a tag). */
  readonly digest?: string;
}

/** kit's reference: local storage, or the registry it names. */
export interface StoreRef {
  readonly kind: "reference";
  readonly ref: ModelRef;
  /** True when the argument named a tag or digest (otherwise `ref` has kit's default tag `latest`). */
  readonly explicit?: boolean;
}

export type KitLocation = StoreRef | LayoutRef;

/**
 * The `org.opencontainers.image.ref.name` grammar of the image-layout spec: components of
 * alphanumerics joined by one of `-._:@+` (or `--`), separated by `/`.
 */
const REF_NAME_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** True when `s` may be an image layout's `ref.name` (a tag such as `v1`, or a name such as `library/busybox:1`). */
export function isRefName(s: string): boolean {
  return REF_NAME_RE.test(s);
}

/** A Windows drive at the start of a path: `C:\` or `C:/`. */
const DRIVE_RE = /^[A-Za-z]:[\\/]/;

/** The transport prefix of `arg` (`oci:` or `oci-archive:`), or undefined for kit's own references. */
export function layoutFormatOf(arg: string): LayoutFormat | undefined {
  if (arg.startsWith("oci-archive:")) return "oci-archive";
  if (arg.startsWith("oci:")) return "oci";
  return undefined;
}

/**
 * Parses `oci:PATH[:TAG|@DIGEST]` or `oci-archive:PATH[:TAG|@DIGEST]` (undefined when `arg` has
 * neither prefix). The rule for `:` is skopeo's: PATH ends at its first `:`, except for a Windows
 * drive (`C:\`, `C:/`) at its start, and a trailing `@<digest>` ends it too. TAG follows the
 * image-layout spec's `ref.name` grammar.
 */
export function parseLayoutRef(arg: string): LayoutRef | undefined {
  const format = layoutFormatOf(arg);
  if (!format) return undefined;
  const rest = arg.slice(format.length + 1);
  const bad = (why: string) => new KitError(`invalid ${format}: reference ${JSON.stringify(arg)}: ${why}`, {
    hint: `Write ${format}:PATH, ${format}:PATH:TAG or ${format}:PATH@sha256:DIGEST; PATH ends at its first ':' (a Windows drive letter such as C:\\ excepted)`,
  });
  const drive = DRIVE_RE.exec(rest)?.[0].length ?? 0;
  const at = rest.lastIndexOf("@");
  if (at >= drive && !rest.slice(drive, at).includes(":")) {
    const digest = rest.slice(at + 1);
    const why = digestProblem(digest);
    if (why === undefined) {
      const path = rest.slice(0, at);
      if (path === "") throw bad("the path is empty");
      return { kind: "layout", format, path, digest };
    }
    // `@sha256:…` that is not a digest is a mistyped one, not a path with `@` in it.
    if (/^sha(256|384|512):/.test(digest)) throw bad(`invalid digest ${JSON.stringify(digest)}: ${why}`);
  }
  const colon = rest.indexOf(":", drive);
  const path = colon < 0 ? rest : rest.slice(0, colon);
  if (path === "") throw bad("the path is empty");
  if (colon < 0) return { kind: "layout", format, path };
  const tag = rest.slice(colon + 1);
  if (tag === "") throw bad("the tag after ':' is empty");
  if (!isRefName(tag)) throw bad(`invalid tag ${JSON.stringify(tag)}`);
  return { kind: "layout", format, path, tag };
}

/** The layout reference in its command-line form. */
export function layoutRefToString(l: LayoutRef): string {
  const base = `${l.format}:${l.path}`;
  if (l.digest) return `${base}@${l.digest}`;
  return l.tag ? `${base}:${l.tag}` : base;
}

/** A location as messages show it: the layout as written, or the full reference. */
export function kitLocationToString(l: KitLocation): string {
  return l.kind === "layout" ? layoutRefToString(l) : refToString(l.ref);
}

/** `l` naming the manifest `digest` (its tag dropped). */
export function layoutWithDigest(l: LayoutRef, digest: string): LayoutRef {
  return { kind: "layout", format: l.format, path: l.path, digest };
}

function tryParse(s: string | undefined, parse: (s: string) => ModelRef = parseReference): ModelRef | undefined {
  if (!s) return undefined;
  try {
    return parse(s);
  } catch {
    return undefined;
  }
}

/**
 * A full `registry/repository[:tag|@digest]` name as kit and containerd record it: the first
 * segment is always the registry, so kit's own `localhost/<name>:<tag>` means repository `<name>`
 * (kit's reference parser would read `localhost/<name>` as the repository).
 */
function parseRecorded(s: string): ModelRef {
  const r = parseOrasReference(s);
  return isModelRef(r) ? r : withTag(r, DEFAULT_TAG);
}

type LayoutEntry = { digest: string; annotations?: Record<string, string> };

/** The reference a layout entry records (kit's annotation, else containerd's), when it records a valid one. */
function recordedName(entry: LayoutEntry): ModelRef | undefined {
  const a = entry.annotations ?? {};
  return tryParse(a[ANNOTATION_KIT_REFERENCE], parseRecorded) ?? tryParse(a[ANNOTATION_CONTAINERD_NAME], parseRecorded);
}

/**
 * A repository name from a layout's file name: its last path element without a `.tar` extension,
 * lower-cased, each run of other characters than `a-z0-9` made one `-` (`modelkit` when nothing is left).
 */
export function repositoryFromPath(layoutPath: string): string {
  const base = layoutPath.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? "";
  const name = base.replace(/\.tar$/i, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return name === "" ? "modelkit" : name;
}

/**
 * The reference a ModelKit in a layout goes by (docs/format.md#oci-layouts): the full reference
 * kit recorded when writing it (`io.kitops.modelkit.reference`), else containerd's
 * `io.containerd.image.name`, else its `ref.name` when that is a reference naming a registry;
 * otherwise `<name from the layout's path>:<ref.name>` in local storage, or `@<digest>` when the
 * manifest has no usable `ref.name`.
 */
export function layoutKitName(entry: LayoutEntry, layoutPath: string): ModelRef {
  const recorded = recordedName(entry);
  if (recorded) return recorded;
  const refName = entry.annotations?.[ANNOTATION_REF_NAME];
  const repository = repositoryFromPath(layoutPath);
  if (refName && isTag(refName)) return { registry: LOCAL_REGISTRY, repository, tag: refName };
  const full = refName && refName.includes("/") ? tryParse(refName) : undefined;
  if (full) return full;
  return { registry: LOCAL_REGISTRY, repository, digest: entry.digest };
}

/**
 * Names the entries of one layout (docs/format.md#oci-layouts), what `pull` stores each as and
 * `list` shows: the reference an entry records; for an entry that records none (a tag another
 * tool added to a kit's manifest), the one the manifest's other entries record when they agree;
 * otherwise {@link layoutKitName}'s derived name. The recorded names are gathered once, so naming
 * every entry of a large index stays linear.
 */
export function layoutEntryNamer(entries: readonly LayoutEntry[], layoutPath: string): (e: LayoutEntry) => ModelRef {
  /** Per manifest, the one name its entries record (null: they disagree). */
  const shared = new Map<string, ModelRef | null>();
  for (const e of entries) {
    const r = recordedName(e);
    if (!r) continue;
    const had = shared.get(e.digest);
    if (had === undefined) shared.set(e.digest, r);
    else if (had !== null && refToString(had) !== refToString(r)) shared.set(e.digest, null);
  }
  return (e) => recordedName(e) ?? shared.get(e.digest) ?? layoutKitName(e, layoutPath);
}
