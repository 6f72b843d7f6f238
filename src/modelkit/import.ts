/**
 * `kit import`: a Hugging Face or git repository becomes a ModelKit (docs/format.md#import).
 *
 * Hugging Face: resolve the ref to a commit and list the repository there (hub.ts) → the Kitfile
 * (`-f`, standard input, or generated from the listing by the same generator as `kit init`, with
 * package name and author taken from `org/name`: init/hub.ts generateHubKitfile) → on a terminal, an offer to edit it (the
 * caller's `review`) → download only the files some layer packs (hub-download.ts: single-file
 * layers straight into their tar, the rest into the work tree) → pack, with compression `none` →
 * tag. Nothing is downloaded before the Kitfile is settled; nothing is tagged unless every file
 * matched the listing.
 *
 * git: a shallow clone of the ref (git-source.ts) → an existing Kitfile of the repository, `-f`,
 * standard input, or a generated one (offered for editing) → pack → tag.
 *
 * Work directories live in `<home>/cache/import/`: `hf-<repository key>-<commit>` keeps partial
 * downloads across runs (a second run of the same import downloads nothing already complete) and
 * is removed once the ModelKit is stored; a git clone is removed when the import ends.
 * @module
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { findKitfile, readKitfile } from "../kitfile/parse.ts";
import { modelReference } from "../kitfile/paths.ts";
import type { Kitfile } from "../kitfile/schema.ts";
import { assertValidKitfile } from "../kitfile/validate.ts";
import { kitfileToYaml } from "../kitfile/yaml.ts";
import { belongsToOtherLayer, isWithinPath } from "./layers.ts";
import { pack, planLayers, type PackResult, type PrebuiltLayer } from "./pack.ts";
import type { Transport } from "../registry/transport.ts";
import type { LayoutStore } from "../store/layout.ts";
import { runtimeName, runtimeVersion, sha256 } from "../runtime/runtime.ts";
import { errorMessage, KitError, NotFoundError } from "../util/errors.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { atomicWriteFile, ensureDir, randomHex, readFileChunks, tryLock } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import type { Progress } from "../util/progress.ts";
import { generateKitfile } from "../init/generate.ts";
import { cloneRepository, gitUrl, sanitizeUrl } from "../init/git-source.ts";
import { generateHubKitfile, HubClient, hubEndpoint, importableFiles, looksLikeHubRepo, packageFromRepo, parseHubRepo, repoPageUrl, type HubFile, type HubRepo } from "../init/hub.ts";
import { provenanceStatement, type ImportedFile } from "../init/provenance.ts";
import { downloadSnapshot, IMPORT_FILE_MODE, WorkDir, type DownloadPlan } from "./hub-download.ts";

export type ImportSource =
  | { tool: "hf"; repo: HubRepo; ref: string }
  | { tool: "git"; repo: string; ref: string };

/** Where the Kitfile comes from: generated, a file (`-f`), or standard input (`-f -`). */
export type KitfileChoice =
  | { kind: "generate" }
  | { kind: "file"; path: string }
  | { kind: "stdin"; stream: ReadableStream<Uint8Array> };

/** The Kitfile `-f` names: standard input for `-` (not a terminal), a file, or none (generated). */
export function kitfileChoice(file: string, cwd: string, stdin: { isTTY: boolean; stream(): ReadableStream<Uint8Array> }): KitfileChoice {
  if (!file) return { kind: "generate" };
  if (file !== "-") return { kind: "file", path: path.resolve(cwd, file) };
  if (stdin.isTTY) throw new KitError("Cannot read the Kitfile from standard input: it is a terminal", { hint: "Pipe the Kitfile in, e.g. cat Kitfile | kit import org/name -f -" });
  return { kind: "stdin", stream: stdin.stream() };
}

/** What the caller's review of a generated Kitfile sees. */
export interface ReviewRequest {
  kitfile: Kitfile;
  /** Where the generated Kitfile was written (edit it there). */
  kitfilePath: string;
  /** The directory that will be packed, for a git import (kit's resume command names it). */
  contextDir?: string;
}

/**
 * The user declined to finish the import now (no editor to edit the Kitfile with): the work
 * directory and its Kitfile are kept for the resume command the caller printed.
 */
export class ImportPaused extends KitError {
  override name = "ImportPaused";
}

export interface ImportOptions {
  source: ImportSource;
  token?: string;
  kitfile: KitfileChoice;
  /** `--depth` of the generator. */
  depth: number;
  concurrency: number;
  home: string;
  storage: LayoutStore;
  /** `<registry>/<repository>` to tag in, and the tags. */
  repo: string;
  tags: string[];
  /** The tag as the user sees it (messages, attestation subject). */
  tagText: string;
  /** The Hub's address (for `hf`). */
  endpoint: URL;
  transport: Transport;
  env: Record<string, string | undefined>;
  cwd: string;
  cliVersion: string;
  created: string;
  /** Offers a generated Kitfile for editing and returns the one to use. */
  review?: (r: ReviewRequest) => Promise<Kitfile>;
  /** Hash every imported file (git; the Hub's downloads are hashed anyway). */
  hashFiles: boolean;
  logger: Logger;
  progress?: Progress;
  signal?: AbortSignal;
}

export interface ImportResult {
  pack: PackResult;
  kitfile: Kitfile;
  tool: "hf" | "git";
  /** The repository as a URL (`git+…` for git). */
  sourceUri: string;
  ref: string;
  commit: string;
  files: ImportedFile[];
  fileUri?: (path: string) => string;
}

async function chosenKitfile(choice: KitfileChoice, logger: Logger, signal?: AbortSignal): Promise<Kitfile> {
  const path = choice.kind === "stdin" ? "-" : (choice as { path: string }).path;
  const { kitfile, warnings } = await readKitfile(path, { stdin: choice.kind === "stdin" ? choice.stream : undefined, signal });
  for (const w of warnings) logger.warn(w);
  assertValidKitfile(kitfile, logger);
  return kitfile;
}

/** Writes a generated Kitfile where the user can edit it, says so as kit does, and offers the review. */
async function settleGenerated(kitfile: Kitfile, file: string, opts: ImportOptions, contextDir?: string): Promise<Kitfile> {
  const yaml = kitfileToYaml(kitfile);
  await fsp.writeFile(file, yaml, { mode: IMPORT_FILE_MODE });
  opts.logger.info(`Generated Kitfile:\n\n${yaml}\n`);
  if (!opts.review) return kitfile;
  const reviewed = await opts.review({ kitfile, kitfilePath: file, contextDir });
  assertValidKitfile(reviewed, opts.logger);
  return reviewed;
}

function refuseModelReference(kitfile: Kitfile): void {
  const ref = modelReference(kitfile.model?.path);
  if (ref) throw new KitError(`kit import cannot pack a Kitfile whose model is another ModelKit (${kitfile.model!.path})`, { hint: "Import the repository with a Kitfile that packs its files, then reference it from another Kitfile with kit pack" });
}

/**
 * The files the Kitfile's layers pack: a file that is a layer path by itself becomes a layer of
 * its own; the files of a directory layer (or `.`) go to the work tree, except those another
 * layer claims (the layer-ownership rule of pack). A layer path that is not in the repository
 * is an error.
 */
export function planDownloads(kitfile: Kitfile, files: HubFile[], where: string): DownloadPlan {
  const importable = importableFiles(files);
  const byPath = new Map(importable.map((f) => [f.path, f]));
  const dirs = new Set<string>();
  for (const f of importable) {
    const segs = f.path.split("/");
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join("/"));
  }
  const plans = planLayers(kitfile, "tar");
  const all = plans.map((p) => p.path);
  const layers: HubFile[] = [];
  const tree = new Set<HubFile>();
  for (const plan of plans) {
    const p = plan.path;
    const single = byPath.get(p);
    if (single) {
      if (plan.format === "tar") layers.push(single);
      else tree.add(single);
      continue;
    }
    if (p !== "." && !dirs.has(p)) throw new NotFoundError(`Path ${plan.rawPath} of the Kitfile is not in ${where}`, { hint: "Edit the Kitfile so that every path names a file or directory of the repository" });
    const others = all.filter((o) => o !== p);
    for (const f of importable) {
      if (isWithinPath(f.path, p) && !belongsToOtherLayer(f.path, p, others)) tree.add(f);
    }
  }
  return { layers, tree: [...tree].filter((f) => !layers.includes(f)) };
}

/** Runs a whole import; see the module comment. */
export async function importRepository(opts: ImportOptions): Promise<ImportResult> {
  return opts.source.tool === "hf" ? importFromHub(opts, opts.source) : importWithGit(opts, opts.source);
}

function importDir(home: string): string {
  return path.join(home, "cache", "import");
}

async function packIt(opts: ImportOptions, context: string, kitfile: Kitfile, prebuilt?: Map<string, PrebuiltLayer>): Promise<PackResult> {
  opts.logger.info(`Packing model to ${opts.tagText}`);
  const result = await pack({
    context,
    kitfile,
    storage: opts.storage,
    repo: opts.repo,
    tags: opts.tags,
    compression: "none",
    layerFormat: "tar",
    shape: "newest",
    cliVersion: opts.cliVersion,
    created: opts.created,
    logger: opts.logger,
    progress: opts.progress,
    signal: opts.signal,
    prebuiltLayers: prebuilt,
  });
  opts.logger.info(`Model is packed as ${opts.tagText}`);
  return result;
}

/** The Hub's work directory name: the endpoint and repository hashed, plus the commit. */
function hubWorkName(hub: HubClient, repo: HubRepo, commit: string): string {
  const key = createHash("sha256").update(`${hub.endpoint.href}\n${repo.type}\n${repo.id}`).digest("hex").slice(0, 16);
  return `hf-${key}-${commit}`;
}

async function importFromHub(opts: ImportOptions, src: Extract<ImportSource, { tool: "hf" }>): Promise<ImportResult> {
  const hub = new HubClient({ endpoint: opts.endpoint, token: opts.token, transport: opts.transport, logger: opts.logger });
  const snap = await hub.snapshot(src.repo, src.ref, opts.signal);
  const where = `${src.repo.id} at ${src.ref} (commit ${snap.commit})`;
  if (snap.gated) {
    const probe = importableFiles(snap.files)[0];
    if (probe) await hub.checkAccess(snap, probe, opts.signal);
  }
  const base = importDir(opts.home);
  await ensureDir(base);
  const work = new WorkDir(path.join(base, hubWorkName(hub, src.repo, snap.commit)));
  const lock = await tryLock(`${work.root}.lock`);
  if (!lock) throw new KitError(`Another kit import of ${where} is running`, { hint: `Wait for it to finish, or remove ${work.root}.lock if no kit process is running` });
  try {
    await ensureDir(work.root);
    let kitfile: Kitfile;
    if (opts.kitfile.kind !== "generate") {
      kitfile = await chosenKitfile(opts.kitfile, opts.logger, opts.signal);
    } else {
      const generated = await generateHubKitfile(hub, snap, { depth: opts.depth, logger: opts.logger, signal: opts.signal });
      kitfile = await settleGenerated(generated, work.kitfile, opts);
    }
    refuseModelReference(kitfile);
    const plan = planDownloads(kitfile, snap.files, where);
    const downloaded = await downloadSnapshot(hub, snap, plan, work, {
      concurrency: opts.concurrency,
      transport: opts.transport,
      logger: opts.logger,
      progress: opts.progress,
      signal: opts.signal,
    });
    const result = await packIt(opts, work.tree, kitfile, downloaded.layers);
    await fsp.rm(work.root, { recursive: true, force: true }).catch((e) => opts.logger.warn(`Failed to clean the import directory ${work.root}: ${(e as Error).message}`));
    return {
      pack: result,
      kitfile,
      tool: "hf",
      sourceUri: hub.repoUrl(src.repo),
      ref: src.ref,
      commit: snap.commit,
      files: downloaded.files,
      fileUri: (p) => hub.fileUrl(src.repo, snap.commit, p).href,
    };
  } finally {
    await lock.release();
  }
}

async function importWithGit(opts: ImportOptions, src: Extract<ImportSource, { tool: "git" }>): Promise<ImportResult> {
  const url = gitUrl(src.repo, opts.cwd);
  const base = importDir(opts.home);
  await ensureDir(base);
  const dir = path.join(base, `git-${randomHex(8)}`);
  let keep = false;
  try {
    const { commit } = await cloneRepository(url, src.ref, dir, { token: opts.token, env: opts.env, cwd: opts.cwd, logger: opts.logger, signal: opts.signal });
    let kitfile: Kitfile;
    let generated = false;
    if (opts.kitfile.kind !== "generate") {
      kitfile = await chosenKitfile(opts.kitfile, opts.logger, opts.signal);
    } else {
      const existing = await findKitfile(dir).catch((e) => {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      });
      if (existing) {
        opts.logger.info(`Using the Kitfile of the repository (${path.basename(existing)})`);
        kitfile = await chosenKitfile({ kind: "file", path: existing }, opts.logger, opts.signal);
      } else {
        const pkg = packageFromRepo(sanitizeUrl(src.repo));
        const g = await generateKitfile(dir, { name: pkg.name, author: pkg.author, depth: opts.depth, logger: opts.logger, signal: opts.signal });
        generated = true;
        try {
          kitfile = await settleGenerated(g, path.join(dir, "Kitfile"), opts, dir);
        } catch (e) {
          if (e instanceof ImportPaused) keep = true;
          throw e;
        }
      }
    }
    refuseModelReference(kitfile);
    const result = await packIt(opts, dir, kitfile);
    const files = opts.hashFiles ? await hashTree(dir, generated ? ["Kitfile"] : [], opts.signal) : [];
    return { pack: result, kitfile, tool: "git", sourceUri: `git+${sanitizeUrl(url)}`, ref: src.ref, commit, files };
  } finally {
    if (!keep) await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Every regular file below `root` (symlinks not followed) with its sha256, in byte-wise path order. */
async function hashTree(root: string, skip: string[], signal?: AbortSignal): Promise<ImportedFile[]> {
  const out: ImportedFile[] = [];
  const walk = async (rel: string) => {
    const entries = (await fsp.readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) => compareGoStrings(a.name, b.name));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile() && !skip.includes(r)) {
        const h = sha256();
        let size = 0;
        for await (const c of readFileChunks(path.join(root, r), { signal })) {
          h.update(c);
          size += c.byteLength;
        }
        out.push({ path: r, size, sha256: h.hex() });
      }
    }
  };
  await walk("");
  return out;
}

/** kit's default tag source: the URL's (or string's) path must be exactly `org/repo`. */
function repoFromUrl(raw: string): string {
  let p = raw;
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) p = new URL(raw).pathname;
  } catch {
    // kept as given
  }
  p = p.replace(/^\/+|\/+$/g, "");
  if (p.split("/").length !== 2) throw new KitError(`could not extract organization and repository from '${p}'`);
  return p;
}

/** A word for a shell command line, quoted only when it needs to be. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** What `kit import REPOSITORY` works on, decided from its arguments (kit's rules). */
export interface ImportPlan {
  source: ImportSource;
  endpoint: URL;
  /** `--token`, else `HF_TOKEN` for a Hugging Face repository (a git repository elsewhere gets only `--token`). */
  token: string | undefined;
  /** `--tag`, else `<org/repo>:latest` (then `tagDefaulted`). */
  tagText: string;
  tagDefaulted: boolean;
  /** The command that continues after the Kitfile was edited by hand. */
  resumeCommand(r: { kitfilePath: string; contextDir?: string }): string;
}

export function planImport(
  repoArg: string,
  o: { tool: string; ref: string; tag: string; token: string; env: Record<string, string | undefined>; logger: Logger },
): ImportPlan {
  if (o.tool && o.tool !== "git" && o.tool !== "hf") throw new KitError("invalid value for --tool flag. Valid options are: git, hf");
  const endpoint = hubEndpoint(o.env);
  const hubRepo = parseHubRepo(repoArg, endpoint);
  let tagText = o.tag;
  if (!tagText) {
    let base: string;
    try {
      base = hubRepo ? hubRepo.id : repoFromUrl(repoArg);
    } catch (e) {
      o.logger.error(`Could not generate tag from URL: ${errorMessage(e)}`);
      throw new KitError("use flag --tag to set a tag for ModelKit");
    }
    tagText = `${base.toLowerCase()}:latest`;
  }
  const tool = o.tool || (looksLikeHubRepo(repoArg, endpoint) ? "hf" : "git");
  let source: ImportSource;
  if (tool === "hf") {
    if (!hubRepo) {
      throw new KitError(`could not process URL ${repoArg}: not a Hugging Face repository`, { hint: "Give it as org/name or https://huggingface.co/org/name, or use --tool git for other git repositories" });
    }
    source = { tool: "hf", repo: hubRepo, ref: o.ref };
  } else {
    // kit clones a bare org/name from the Hub.
    source = { tool: "git", repo: hubRepo ? repoPageUrl(endpoint, hubRepo) : repoArg, ref: o.ref };
  }
  const token = o.token || (hubRepo ? o.env.HF_TOKEN : undefined) || undefined;
  const finalTag = tagText;
  return {
    source,
    endpoint,
    token,
    tagText,
    tagDefaulted: !o.tag,
    resumeCommand: (r) =>
      source.tool === "git"
        ? `kit pack -t ${shellWord(finalTag)} ${shellWord(r.contextDir ?? "")}`
        : `kit import ${shellWord(repoArg)}${o.ref !== "main" ? ` --ref ${shellWord(o.ref)}` : ""} -t ${shellWord(finalTag)} -f ${shellWord(r.kitfilePath)}`,
  };
}

/**
 * `--attestation-output`: the in-toto statement ({@link attestationJson}) written to `output`
 * (relative to `cwd`, replaced atomically), or given to `print` for `-`.
 */
export async function writeAttestation(
  result: ImportResult,
  o: { output: string; tagText: string; cliVersion: string; started: Date; cwd: string; print: (s: string) => void; logger: Logger },
): Promise<void> {
  const json = attestationJson(result, o.tagText, { kit: o.cliVersion, runtime: `${runtimeName} ${runtimeVersion()}` }, o.started);
  if (o.output === "-") return o.print(json);
  const file = path.resolve(o.cwd, o.output);
  await atomicWriteFile(file, json, 0o644);
  o.logger.info(`Wrote attestation to ${file}`);
}

/** The in-toto statement (SLSA provenance v1) of an import, as JSON text. */
export function attestationJson(result: ImportResult, tagText: string, builderVersion: { kit: string; runtime: string }, started: Date): string {
  const statement = provenanceStatement({
    subject: { name: tagText, digest: result.pack.manifest.digest },
    source: { uri: result.sourceUri, tool: result.tool, ref: result.ref, commit: result.commit },
    kitfileDigest: result.pack.config.digest,
    files: result.files,
    fileUri: result.fileUri,
    builderVersion,
    invocationId: crypto.randomUUID(),
    startedOn: started,
    finishedOn: new Date(),
  });
  return `${JSON.stringify(statement, null, 2)}\n`;
}
