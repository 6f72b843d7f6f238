/**
 * `kit init`: generate a Kitfile from the contents of a directory, following the newest kit rules
 * (docs/format.md#init; KitOps' generator after its `--depth` rework):
 *
 * * A root `SKILL.md` makes the whole directory one prompt `.`; package name, description and
 *   license are filled from its front-matter where the caller gave none. Nothing else is listed.
 * * Files of the root (and, with `depth` ≠ 0, of sub-directories down to that many levels; negative
 *   = all) are classified one by one: `Kitfile` names skipped; `readme*` → docs "Readme file";
 *   `license*` → docs "License file" + license detection (root only); then classify.ts: model
 *   files become model candidates, metadata files model parts (or datasets when there is no
 *   model), docs/datasets/prompts one entry per file, `.mcpb` one mcpServers entry per file.
 * * Unknown files: at the root, more than 5 → one code entry `.`, otherwise one code entry per
 *   file; in sub-directories classified file by file, always one code entry per file.
 * * Sub-directories below the file-by-file levels are classified as a whole (addDirectory).
 *   Directory paths carry a trailing `/` as newest kit writes them; SKILL.md directories don't.
 * * Model candidates: one → model with name = file name minus extension (kit: the path); several → the largest is the
 *   model (with name) when larger than avg + avg/2 (integer math), others parts in order; else
 *   the first is the model (no name) and the rest parts.
 * * License: model (if detected) → else the only dataset → else the only code entry → else package.
 *   Then sub-directory SKILL.md front-matter may fill package fields (see applySkillPackage).
 *
 * Fixes over kit (project policy): hidden files/directories and OS junk are skipped (dir-listing.ts);
 * `author` alone yields a package with only `authors` (kit panics); the `*pytorch_model*.bin`
 * glob is matched against base names (classify.ts); license files below the root are listed but
 * not scanned (kit scans them, discards the result and may warn spuriously).
 * @module
 */

import { open } from "node:fs/promises";
import { join } from "node:path";
import type { Code, Dataset, Docs, Kitfile, McpServer, Model, Package, Prompt } from "../kitfile/schema.ts";
import { UsageError, errorMessage } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { KITFILE_NAMES, MCP_SUFFIX, fileType, type FileType } from "./classify.ts";
import { detectLicense } from "./license.ts";
import { listDirectory, type DirectoryListing, type FileListing } from "./dir-listing.ts";
import { chooseModel } from "./model.ts";
import { findSkillFile, parseSkillFrontMatter, type SkillFrontMatter } from "./skill.ts";

export interface GenerateOptions {
  name?: string;
  /** The package name when none is given and no SKILL.md names one (kit init: the directory's name). */
  defaultName?: string;
  description?: string;
  author?: string;
  /** Sub-directory levels classified file by file; 0 (default) = kit v1.7 behaviour; negative = all. */
  depth?: number;
  logger: Logger;
  signal?: AbortSignal;
}

/** Upper bound on what is read of a LICENSE or SKILL.md file (both are small text files). */
export const MAX_TEXT_BYTES = 1 << 20;
/** More unknown files than this at the root → one catch-all code entry `.`. */
const MAX_UNKNOWN_FILES = 5;
const CODE_DIR_NAMES = ["src", "pkg", "lib", "build"];

/** Generates a Kitfile for directory `dir` (which is only read). */
export async function generateKitfile(dir: string, opts: GenerateOptions): Promise<Kitfile> {
  checkDepth(opts.depth);
  const listing = await listDirectory(dir, opts.logger, opts.signal);
  return generateFromListing(listing, (rel) => readText(join(dir, rel)), dir, opts);
}

/**
 * Reads a small text file of the listing (LICENSE, SKILL.md) by its `/`-separated path relative
 * to the listed root; at most {@link MAX_TEXT_BYTES} bytes are used.
 */
export type ListingReader = (relPath: string) => Promise<string>;

/**
 * Generates a Kitfile from a listing made elsewhere (a remote repository's tree): the same rules
 * as {@link generateKitfile}; `read` supplies the LICENSE and SKILL.md texts, `where` names the
 * listed root in trace lines.
 */
export function generateFromListing(listing: DirectoryListing, read: ListingReader, where: string, opts: GenerateOptions): Promise<Kitfile> {
  checkDepth(opts.depth);
  return new Generator(where, read, opts).run(listing, opts.depth ?? 0);
}

function checkDepth(depth: number | undefined): void {
  if (depth !== undefined && !Number.isInteger(depth)) throw new UsageError(`Invalid depth ${depth}: must be an integer`);
}

interface Collected {
  models: FileListing[];
  metadata: FileListing[];
  unknown: FileListing[];
}

class Generator {
  private readonly code: Code[] = [];
  private readonly datasets: Dataset[] = [];
  private readonly docs: Docs[] = [];
  private readonly prompts: Prompt[] = [];
  private readonly mcpServers: McpServer[] = [];
  private readonly pkg: Package;
  private readonly skillCache = new Map<string, SkillFrontMatter | undefined>();
  private detectedLicense = "";
  private readonly logger: Logger;
  private readonly defaultName: string | undefined;

  constructor(
    private readonly root: string,
    private readonly read: ListingReader,
    opts: GenerateOptions,
  ) {
    this.logger = opts.logger;
    this.defaultName = opts.defaultName;
    this.pkg = packageFromOptions(opts);
  }

  async run(listing: DirectoryListing, depth: number): Promise<Kitfile> {
    this.logger.trace(`Generating Kitfile in ${this.root}`);
    const rootSkill = findSkillFile(listing);
    if (rootSkill) {
      this.logger.trace("SKILL.md found at the root; treating the directory as a single skill");
      const { prompt, fm } = await this.skillPrompt(listing, rootSkill);
      this.prompts.push(prompt);
      if (fm) {
        this.pkg.name ||= fm.name;
        this.pkg.description ||= fm.description;
        this.pkg.license ||= fm.license;
      }
      return this.assemble(undefined);
    }

    const found = await this.processFiles(listing, depth, true);
    if (found.unknown.length > MAX_UNKNOWN_FILES) {
      this.logger.trace(`${found.unknown.length} unrecognised files at the root; adding catch-all code layer`);
      this.code.push({ path: "." });
    } else {
      for (const f of found.unknown) this.code.push({ path: f.path });
    }

    const model = chooseModel(found.models);
    if (model) {
      this.logger.trace("Adding metadata files as model parts");
      if (found.metadata.length > 0) model.parts = [...(model.parts ?? []), ...found.metadata.map((f) => ({ path: f.path }))];
    } else {
      for (const f of found.metadata) this.datasets.push({ path: f.path });
    }

    const lic = this.detectedLicense;
    if (lic !== "") {
      if (model) model.license = lic;
      else if (this.datasets.length === 1) this.datasets[0]!.license = lic;
      else if (this.code.length === 1) this.code[0]!.license = lic;
      else this.pkg.license = lic;
    }

    await this.applySkillPackage(listing, model);
    return this.assemble(model);
  }

  /** Classifies the files of `dir` one by one, then its sub-directories per `depth`. */
  private async processFiles(dir: DirectoryListing, depth: number, isRoot: boolean): Promise<Collected> {
    const out: Collected = { models: [], metadata: [], unknown: [] };
    if (!isRoot) {
      const skill = findSkillFile(dir);
      if (skill) {
        this.logger.trace(`Directory ${dir.path} contains SKILL.md; treating it as a skill`);
        this.prompts.push((await this.skillPrompt(dir, skill)).prompt);
        return out;
      }
    }
    for (const file of dir.files) {
      if (KITFILE_NAMES.includes(file.name)) {
        this.logger.trace(`Skipping Kitfile ${file.path}`);
        continue;
      }
      const lower = file.name.toLowerCase();
      if (lower.startsWith("readme")) {
        this.docs.push({ path: file.path, description: "Readme file" });
        continue;
      }
      if (lower.startsWith("license")) {
        this.docs.push({ path: file.path, description: "License file" });
        if (isRoot) this.detectedLicense = await this.licenseOf(file);
        continue;
      }
      const type = fileType(file.path);
      switch (type) {
        case "model":
          out.models.push(file);
          break;
        case "metadata":
          out.metadata.push(file);
          break;
        case "docs":
          this.docs.push({ path: file.path });
          break;
        case "dataset":
          this.datasets.push({ path: file.path });
          break;
        case "prompt":
          this.prompts.push({ path: file.path });
          break;
        case "mcp":
          this.mcpServers.push(mcpServerFor(file));
          break;
        case "unknown":
          this.logger.trace(`File ${file.path} is of unknown type; it will be included as code`);
          out.unknown.push(file);
          break;
      }
    }
    for (const sub of dir.subdirs) {
      if (depth === 0) {
        const r = await this.addDirectory(sub);
        out.models.push(...r.models);
        out.metadata.push(...r.metadata);
      } else {
        const r = await this.processFiles(sub, depth - 1, false);
        out.models.push(...r.models);
        out.metadata.push(...r.metadata);
        for (const f of r.unknown) this.code.push({ path: f.path });
      }
    }
    return out;
  }

  /** Classifies a directory as a whole. Returns the model candidates (and metadata) it yields. */
  private async addDirectory(dir: DirectoryListing): Promise<Omit<Collected, "unknown">> {
    const none = { models: [], metadata: [] };
    const skill = findSkillFile(dir);
    if (skill) {
      this.logger.trace(`Directory ${dir.path} contains SKILL.md; treating it as a skill`);
      this.prompts.push((await this.skillPrompt(dir, skill)).prompt);
      return none;
    }
    const dirPath = `${dir.path}/`;
    if (dir.name === "docs") {
      this.docs.push({ path: dirPath });
      return none;
    }
    if (CODE_DIR_NAMES.includes(dir.name)) {
      this.code.push({ path: dirPath });
      return none;
    }

    // Nested directories count as unknown content; metadata files don't decide the type.
    const types = new Set<FileType>();
    if (dir.subdirs.length > 0) types.add("unknown");
    const models: FileListing[] = [];
    const metadata: FileListing[] = [];
    const bundles: FileListing[] = [];
    for (const file of dir.files) {
      const t = fileType(file.name);
      if (t === "model") models.push(file);
      else if (t === "metadata") metadata.push(file);
      else if (t === "mcp") bundles.push(file);
      if (t !== "metadata") types.add(t);
    }
    if (types.size > 1) {
      // Like model files, MCP bundles of a mixed directory still get their own entries.
      this.logger.trace(`Mixed contents in directory ${dir.path}; adding it as code`);
      this.code.push({ path: dirPath });
      for (const b of bundles) this.mcpServers.push(mcpServerFor(b));
      return { models, metadata: [] };
    }
    const [only = "unknown"] = types;
    switch (only) {
      case "model":
        this.logger.trace(`Directory ${dir.path} holds a model`);
        return { models: [...models, ...metadata], metadata: [] };
      case "dataset":
        this.datasets.push({ path: dirPath });
        break;
      case "docs":
        this.docs.push({ path: dirPath });
        break;
      case "prompt":
        this.prompts.push({ path: dirPath });
        break;
      case "mcp":
        // An mcpServers entry is a single bundle file, so the directory itself is no layer; its
        // metadata files go wherever top-level metadata goes (model parts or datasets).
        for (const b of bundles) this.mcpServers.push(mcpServerFor(b));
        return { models: [], metadata };
      default:
        this.logger.trace(`Could not determine the type of directory ${dir.path}; adding it as code`);
        this.code.push({ path: dirPath });
    }
    return none;
  }

  private async skillPrompt(
    dir: DirectoryListing,
    skill: FileListing,
  ): Promise<{ prompt: Prompt; fm: SkillFrontMatter | undefined }> {
    const fm = await this.skillFrontMatter(skill);
    const prompt: Prompt = {};
    if (fm?.name) prompt.name = fm.name;
    prompt.path = dir.path;
    if (fm?.description) prompt.description = fm.description;
    return { prompt, fm };
  }

  private async skillFrontMatter(skill: FileListing): Promise<SkillFrontMatter | undefined> {
    if (this.skillCache.has(skill.path)) return this.skillCache.get(skill.path);
    let fm: SkillFrontMatter | undefined;
    let text: string | undefined;
    try {
      text = await this.read(skill.path);
    } catch (e) {
      this.logger.warn(`Failed to read ${skill.path}: ${errorMessage(e)}`);
    }
    if (text !== undefined) fm = parseSkillFrontMatter(text, skill.path, this.logger);
    this.skillCache.set(skill.path, fm);
    return fm;
  }

  /**
   * Skills in direct sub-directories of the root: when the Kitfile holds nothing but prompts and
   * there is exactly one such skill, its name and description fill empty package fields; the first
   * skill's license fills an empty package license.
   */
  private async applySkillPackage(listing: DirectoryListing, model: Model | undefined): Promise<void> {
    const fms: SkillFrontMatter[] = [];
    for (const sub of listing.subdirs) {
      const skill = findSkillFile(sub);
      if (!skill) continue;
      const fm = await this.skillFrontMatter(skill);
      if (fm) fms.push(fm);
    }
    if (fms.length === 0) return;
    const onlyPrompts =
      !model &&
      this.code.length === 0 &&
      this.datasets.length === 0 &&
      this.docs.length === 0 &&
      this.mcpServers.length === 0;
    if (onlyPrompts && fms.length === 1) {
      this.pkg.name ||= fms[0]!.name;
      this.pkg.description ||= fms[0]!.description;
    }
    this.pkg.license ||= fms[0]!.license;
  }

  private async licenseOf(file: FileListing): Promise<string> {
    let id: string | undefined;
    try {
      id = detectLicense(await this.read(file.path));
    } catch (e) {
      this.logger.debug(`Error reading license file ${file.path}: ${errorMessage(e)}`);
    }
    if (id === undefined) {
      this.logger.warn("Unable to determine license type");
      return "";
    }
    this.logger.trace(`Detected license ${id} for license file ${file.path}`);
    return id;
  }

  /**
   * Builds the Kitfile with keys in the newest config order (docs/format.md#kitfile). `package` is always
   * present, possibly empty, as parseKitfile returns it (kit's package is a struct, not a pointer);
   * the YAML emitter omits an empty one.
   */
  private assemble(model: Model | undefined): Kitfile {
    if (!this.pkg.name && this.defaultName) this.pkg.name = this.defaultName;
    const k: Kitfile = { manifestVersion: "1.0.0", package: cleanPackage(this.pkg) };
    if (model) k.model = orderModel(model);
    if (this.code.length > 0) k.code = this.code;
    if (this.datasets.length > 0) k.datasets = this.datasets;
    if (this.docs.length > 0) k.docs = this.docs;
    if (this.prompts.length > 0) k.prompts = this.prompts;
    if (this.mcpServers.length > 0) k.mcpServers = this.mcpServers;
    return k;
  }
}

function packageFromOptions(opts: GenerateOptions): Package {
  const pkg: Package = {};
  if (opts.name) pkg.name = opts.name;
  if (opts.description) pkg.description = opts.description;
  if (opts.author) pkg.authors = [opts.author];
  return pkg;
}

/** The package with its keys in schema order and empty fields left out. */
function cleanPackage(p: Package): Package {
  const out: Package = {};
  if (p.name) out.name = p.name;
  if (p.version) out.version = p.version;
  if (p.description) out.description = p.description;
  if (p.license) out.license = p.license;
  if (p.authors && p.authors.length > 0) out.authors = p.authors;
  return out;
}

/** The model with its keys in schema order (the license is attached after the parts). */
function orderModel(m: Model): Model {
  const out: Model = {};
  if (m.name) out.name = m.name;
  out.path = m.path;
  if (m.license) out.license = m.license;
  if (m.parts && m.parts.length > 0) out.parts = m.parts;
  return out;
}

/** An mcpServers entry for a bundle; its name is the bundle's path without the `.mcpb` suffix. */
function mcpServerFor(file: FileListing): McpServer {
  return { name: file.path.slice(0, -MCP_SUFFIX.length), path: file.path };
}

/** Reads at most MAX_TEXT_BYTES of a file as UTF-8 text. */
async function readText(path: string): Promise<string> {
  const fh = await open(path, "r");
  try {
    const buf = new Uint8Array(MAX_TEXT_BYTES);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
}
