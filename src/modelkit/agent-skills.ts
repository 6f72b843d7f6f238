/**
 * Agent skills (docs/format.md#agent-skills): `kit skill` installs the SKILL.md embedded in kit,
 * `kit unpack --as-skill` the SKILL.md prompt layers of a ModelKit, into the skills directories of
 * coding agents — each skill a directory `<skills dir>/<name>/` holding SKILL.md and its files.
 * Skills go to each agent's user-wide directory, or with a project directory (`-d`) to the
 * agent's project-relative one. Without an agent list, the agents whose configuration directory
 * exists are used.
 * @module
 */
import { lstat, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseSkillFrontMatter } from "../init/skill.ts";
import { cleanPath } from "../kitfile/paths.ts";
import type { Prompt } from "../kitfile/schema.ts";
import { ANNOTATION_LAYER_SUBTYPE } from "../oci/media-types.ts";
import { parseLayerType } from "../oci/layer-type.ts";
import type { ReadOnlyTarget } from "../store/target.ts";
import { gunzipStream, zstdDecompressStream } from "../util/compress.ts";
import { KitError } from "../util/errors.ts";
import { isWithinDir, randomHex } from "../util/fs.ts";
import { compareGoStrings } from "../util/go-json.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import { throwIfAborted } from "../util/pool.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { tagOrDigest, type ModelRef } from "../oci/reference.ts";
import { readModelKit, type ModelKitContents } from "./contents.ts";
import { matchesFilters, type Filter } from "./layer-filter.ts";
import KIT_SKILL_MD from "./kit-skill.md" with { type: "text" };
import { readTar } from "../store/tar-reader.ts";

type Env = Record<string, string | undefined>;

/** Where an agent keeps skills. */
interface AgentDirs {
  /** Relative to a project directory. */
  project: string;
  /** The user-wide skills directory. */
  global(env: Env): string;
  /** Directories whose existence means the agent is installed (none: never detected). */
  detect(env: Env): string[];
}

const home = (env: Env) => env.HOME || env.USERPROFILE || "/";
const under = (env: Env, ...p: string[]) => path.join(home(env), ...p);
const xdg = (env: Env) => env.XDG_CONFIG_HOME?.trim() || under(env, ".config");
const claude = (env: Env) => env.CLAUDE_CONFIG_DIR?.trim() || under(env, ".claude");
const codex = (env: Env) => env.CODEX_HOME?.trim() || under(env, ".codex");

/** `~/.<dot>` detects it; skills in `~/.<dot>/skills` (or `global`). */
function dotAgent(project: string, dot: string, global?: (env: Env) => string): AgentDirs {
  return { project, global: global ?? ((env) => under(env, dot, "skills")), detect: (env) => [under(env, dot)] };
}

/** The coding agents KitOps knows, by the names `--agents` accepts. */
const AGENTS: Record<string, AgentDirs> = {
  adal: dotAgent(".adal/skills", ".adal"),
  amp: { project: ".agents/skills", global: (e) => path.join(xdg(e), "agents", "skills"), detect: (e) => [path.join(xdg(e), "amp")] },
  antigravity: dotAgent(".agents/skills", ".gemini/antigravity"),
  augment: dotAgent(".augment/skills", ".augment"),
  bob: dotAgent(".bob/skills", ".bob"),
  "claude-code": { project: ".claude/skills", global: (e) => path.join(claude(e), "skills"), detect: (e) => [claude(e)] },
  cline: dotAgent(".agents/skills", ".cline", (e) => under(e, ".agents", "skills")),
  codebuddy: dotAgent(".codebuddy/skills", ".codebuddy"),
  codex: { project: ".agents/skills", global: (e) => path.join(codex(e), "skills"), detect: (e) => [codex(e)] },
  "command-code": dotAgent(".commandcode/skills", ".commandcode"),
  continue: dotAgent(".continue/skills", ".continue"),
  cortex: dotAgent(".cortex/skills", ".snowflake/cortex"),
  crush: { project: ".crush/skills", global: (e) => path.join(xdg(e), "crush", "skills"), detect: (e) => [path.join(xdg(e), "crush")] },
  cursor: dotAgent(".agents/skills", ".cursor"),
  deepagents: dotAgent(".agents/skills", ".deepagents", (e) => under(e, ".deepagents", "agent", "skills")),
  droid: dotAgent(".factory/skills", ".factory"),
  firebender: dotAgent(".agents/skills", ".firebender"),
  "gemini-cli": dotAgent(".agents/skills", ".gemini"),
  "github-copilot": dotAgent(".agents/skills", ".copilot"),
  goose: { project: ".goose/skills", global: (e) => path.join(xdg(e), "goose", "skills"), detect: (e) => [path.join(xdg(e), "goose")] },
  "iflow-cli": dotAgent(".iflow/skills", ".iflow"),
  junie: dotAgent(".junie/skills", ".junie"),
  kilo: dotAgent(".kilocode/skills", ".kilocode"),
  "kimi-cli": dotAgent(".agents/skills", ".kimi", (e) => path.join(xdg(e), "agents", "skills")),
  "kiro-cli": dotAgent(".kiro/skills", ".kiro"),
  kode: dotAgent(".kode/skills", ".kode"),
  mcpjam: dotAgent(".mcpjam/skills", ".mcpjam"),
  "mistral-vibe": dotAgent(".vibe/skills", ".vibe"),
  mux: dotAgent(".mux/skills", ".mux"),
  neovate: dotAgent(".neovate/skills", ".neovate"),
  openclaw: {
    project: "skills",
    global: (e) => under(e, ".openclaw", "skills"),
    detect: (e) => [under(e, ".openclaw"), under(e, ".clawdbot"), under(e, ".moltbot")],
  },
  opencode: { project: ".agents/skills", global: (e) => path.join(xdg(e), "opencode", "skills"), detect: (e) => [path.join(xdg(e), "opencode")] },
  openhands: dotAgent(".openhands/skills", ".openhands"),
  pi: dotAgent(".pi/skills", ".pi/agent"),
  pochi: dotAgent(".pochi/skills", ".pochi"),
  qoder: dotAgent(".qoder/skills", ".qoder"),
  "qwen-code": dotAgent(".qwen/skills", ".qwen"),
  replit: { project: ".agents/skills", global: (e) => path.join(xdg(e), "agents", "skills"), detect: () => [] },
  roo: dotAgent(".roo/skills", ".roo"),
  trae: dotAgent(".trae/skills", ".trae"),
  "trae-cn": dotAgent(".trae/skills", ".trae-cn"),
  universal: { project: ".agents/skills", global: (e) => path.join(xdg(e), "agents", "skills"), detect: () => [] },
  warp: dotAgent(".agents/skills", ".warp", (e) => under(e, ".agents", "skills")),
  windsurf: dotAgent(".windsurf/skills", ".codeium/windsurf"),
  zencoder: dotAgent(".zencoder/skills", ".zencoder"),
};

/** Every agent name `--agents` accepts, sorted. */
export const AGENT_NAMES: readonly string[] = Object.keys(AGENTS).sort(compareGoStrings);

/**
 * The agents to install for: the comma-separated `value`, each checked; or, when `value` is
 * empty, the agents whose configuration directory exists (`Detected installed agents: …`).
 */
export async function resolveAgents(value: string, env: Env, logger: Logger): Promise<string[]> {
  const v = value.trim();
  if (v === "") {
    const found: string[] = [];
    for (const name of AGENT_NAMES) {
      for (const d of AGENTS[name]!.detect(env)) {
        if ((await stat(d).catch(() => undefined))?.isDirectory()) {
          found.push(name);
          break;
        }
      }
    }
    if (found.length === 0) throw new KitError("no installed agents detected. Specify agents explicitly, e.g. --agents=claude-code,cursor");
    logger.info(`Detected installed agents: ${found.join(", ")}`);
    return found;
  }
  return v.split(",").map((p) => {
    const name = p.trim();
    if (name === "") throw new KitError(`invalid agent list: empty agent name in '${v}'`);
    if (!(name in AGENTS)) throw new KitError(`unknown agent '${name}'. Valid agents: ${AGENT_NAMES.join(", ")}`);
    return name;
  });
}

/** One file or directory of a skill, relative to the skill's directory. */
export interface SkillEntry {
  name: string;
  type: "file" | "dir";
  mode: number;
  content?: Uint8Array;
}

export interface SkillInstallOptions {
  agents: string[];
  /** Install into this project's agent directories instead of the user-wide ones. */
  projectDir?: string;
  overwrite: boolean;
  ignoreExisting: boolean;
  env: Env;
  logger: Logger;
}

/** Lower-case kebab-case, safe as one directory name (`unnamed-skill` when nothing is left). */
export function sanitizeSkillName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._]+/g, "-").replace(/^[.-]+|[.-]+$/g, "").slice(0, 255);
  return s === "" ? "unnamed-skill" : s;
}

/**
 * A skill's directory name: the SKILL.md front-matter name, else the prompt's name, else from its
 * path (a directory's name, the folder of a SKILL.md, a file's name without extension), else the
 * repository's last path segment.
 */
export function deriveSkillName(frontMatterName: string | undefined, prompt: Prompt, repository: string | undefined): string {
  if (frontMatterName) return sanitizeSkillName(frontMatterName);
  if (prompt.name) return sanitizeSkillName(prompt.name);
  const p = prompt.path ?? "";
  const clean = cleanPath(p === "" ? "." : p);
  const base = path.posix.basename(clean);
  if (p.endsWith("/")) {
    if (base !== "." && base !== "") return sanitizeSkillName(base);
  } else if (base.toLowerCase() === "skill.md") {
    const parent = path.posix.basename(path.posix.dirname(clean));
    if (parent !== "." && parent !== "") return sanitizeSkillName(parent);
  } else if (base !== "." && base !== "") {
    const stem = base.slice(0, base.length - path.posix.extname(base).length);
    if (stem !== "") return sanitizeSkillName(stem);
  }
  const repo = repository?.split("/").pop();
  return repo ? sanitizeSkillName(repo) : "unnamed-skill";
}

/** What happened for one agent. */
export interface AgentOutcome {
  agent: string;
  dir: string;
  skipped?: boolean;
  error?: string;
}

function skillsDirOf(agent: string, o: SkillInstallOptions): string {
  const a = AGENTS[agent]!;
  return path.resolve(o.projectDir ? path.join(o.projectDir, a.project) : a.global(o.env));
}

/**
 * Writes the skill `name` for every agent (agents sharing a directory are written once, the others
 * reported as skipped). Each agent's directory is filled under a temporary name and renamed into
 * place, so a failure leaves no half-written skill. Every agent is tried; outcomes are logged as
 * kit does (`Installed skill '<name>' for <agent> → <dir>`, `Skipped …`, `Failed …`).
 */
export async function installSkill(entries: SkillEntry[], name: string, o: SkillInstallOptions): Promise<AgentOutcome[]> {
  if (name === "." || name === ".." || name.includes("/") || name.includes("\\")) throw new KitError(`invalid skill name '${name}'`);
  for (const e of entries) {
    const c = cleanPath(e.name);
    if (e.name === "" || e.name.startsWith("/") || c === ".." || c.startsWith("../")) throw new KitError(`illegal file path in prompt layer: ${e.name}`);
  }
  const seen = new Set<string>();
  const outcomes: AgentOutcome[] = [];
  for (const agent of o.agents) {
    const dir = path.join(skillsDirOf(agent, o), name);
    if (seen.has(dir)) {
      outcomes.push({ agent, dir, skipped: true });
      continue;
    }
    seen.add(dir);
    try {
      outcomes.push(await installForAgent(entries, agent, dir, o));
    } catch (e) {
      outcomes.push({ agent, dir, error: (e as Error).message });
    }
  }
  for (const r of outcomes) {
    if (r.error) o.logger.info(`Failed to install skill '${name}' for ${r.agent}: ${r.error}`);
    else if (r.skipped) o.logger.info(`Skipped skill '${name}' for ${r.agent}: already exists (use -o to overwrite)`);
    else o.logger.info(`Installed skill '${name}' for ${r.agent} → ${r.dir}`);
  }
  return outcomes;
}

async function installForAgent(entries: SkillEntry[], agent: string, dir: string, o: SkillInstallOptions): Promise<AgentOutcome> {
  const existing = await lstat(dir).catch(() => undefined);
  if (existing) {
    if (o.ignoreExisting) return { agent, dir, skipped: true };
    if (!o.overwrite) throw new KitError("skill directory already exists (use -o to overwrite)");
  }
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o755 });
  const tmp = path.join(path.dirname(dir), `.${path.basename(dir)}.kit-tmp-${randomHex(6)}`);
  try {
    await mkdir(tmp, { mode: 0o755 });
    for (const e of entries) {
      const target = path.join(tmp, cleanPath(e.name));
      if (!isWithinDir(target, tmp)) throw new KitError(`illegal file path in prompt layer: ${e.name}`);
      if (e.type === "dir") {
        await mkdir(target, { recursive: true, mode: (e.mode & 0o777) | 0o700 });
      } else {
        await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
        await writeFile(target, e.content ?? new Uint8Array(), { mode: e.mode & 0o777 });
      }
    }
    if (existing) await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { agent, dir };
}

/** Largest prompt layer read as a skill (each file and all of them together), as kit. */
export const MAX_SKILL_LAYER_BYTES = 10 * 1024 * 1024;

/**
 * A prompt layer's files, relative to the prompt's path (a single-file prompt becomes its base
 * name), and the SKILL.md front-matter name when the layer holds a SKILL.md (undefined: not a
 * skill). Only files and directories; at most {@link MAX_SKILL_LAYER_BYTES}.
 */
export async function readSkillLayer(stream: ReadableStream<Uint8Array>, prompt: Prompt, signal?: AbortSignal): Promise<{ entries: SkillEntry[]; skill?: { name: string } }> {
  const raw: SkillEntry[] = [];
  let total = 0;
  let skillText: string | undefined;
  for await (const e of readTar(stream, { signal })) {
    if (e.type !== "file" && e.type !== "dir") throw new KitError(`unsupported entry type in prompt layer: ${e.name} (symlinks and hard links are not allowed)`);
    if (e.type === "dir") {
      raw.push({ name: e.name, type: "dir", mode: e.mode });
      continue;
    }
    total += e.size;
    if (e.size > MAX_SKILL_LAYER_BYTES) throw new KitError(`prompt layer entry '${e.name}' exceeds maximum size (${MAX_SKILL_LAYER_BYTES} bytes)`);
    if (total > MAX_SKILL_LAYER_BYTES) throw new KitError(`prompt layer exceeds maximum total size (${MAX_SKILL_LAYER_BYTES} bytes)`);
    const content = new Uint8Array(e.size);
    let off = 0;
    for await (const c of e.chunks()) {
      content.set(c.subarray(0, Math.min(c.byteLength, e.size - off)), off);
      off += c.byteLength;
    }
    raw.push({ name: e.name, type: "file", mode: e.mode, content });
    if (path.posix.basename(cleanPath(e.name)) === "SKILL.md") skillText = new TextDecoder().decode(content);
  }
  const entries = stripPromptPath(raw, prompt.path ?? "");
  if (skillText === undefined) return { entries };
  const fm = parseSkillFrontMatter(skillText, prompt.path ?? "SKILL.md", silentLogger);
  return { entries, skill: { name: fm?.name ?? "" } };
}

/** Entries relative to the prompt's own path (`skills/docx/SKILL.md` → `SKILL.md`). */
function stripPromptPath(entries: SkillEntry[], promptPath: string): SkillEntry[] {
  const prefix = cleanPath(promptPath.replaceAll("\\", "/") || ".");
  if (prefix === ".") return entries;
  const single = entries.find((e) => e.type === "file" && cleanPath(e.name) === prefix);
  if (single) return entries.map((e) => (e === single ? { ...e, name: path.posix.basename(prefix) } : e));
  const out: SkillEntry[] = [];
  for (const e of entries) {
    const c = cleanPath(e.name);
    if (!c.startsWith(prefix + "/")) continue;
    const rest = c.slice(prefix.length + 1);
    if (rest === "" || rest === ".." || rest.startsWith("../")) continue;
    out.push({ ...e, name: rest });
  }
  if (out.length === 0) throw new KitError(`prompt path '${promptPath}' does not match any tar entries in the layer`);
  return out;
}

export interface UnpackSkillsOptions extends Omit<SkillInstallOptions, "agents"> {
  agents: string[];
  filters: Filter[];
  /** The kit's repository (the last fallback for a skill's name). */
  repository?: string;
  signal?: AbortSignal;
}

/** `kit unpack REF --as-skill`: finds and reads the kit (verified with `verify` first), then {@link unpackAsSkills}. */
export async function unpackRefAsSkills(
  ref: ModelRef,
  locate: (ref: ModelRef) => Promise<ReadOnlyTarget>,
  o: UnpackSkillsOptions & { verify?: (source: ReadOnlyTarget, ref: ModelRef, desc: Descriptor) => Promise<unknown> },
): Promise<void> {
  const source = await locate(ref);
  const kit = await readModelKit(source, tagOrDigest(ref), { signal: o.signal, logger: o.logger });
  await o.verify?.(source, ref, kit.manifestDesc);
  await unpackAsSkills(source, kit, { ...o, repository: o.repository ?? ref.repository });
}

/**
 * `kit unpack --as-skill`: the kit's prompt layers that pass the filters and hold a SKILL.md are
 * installed as skills; nothing else is written (no Kitfile, no other layer, no parent kits).
 * Throws when a skill could not be installed for some agent.
 */
export async function unpackAsSkills(source: ReadOnlyTarget, kit: ModelKitContents, o: UnpackSkillsOptions): Promise<void> {
  const log = o.logger;
  const prompts = kit.kitfile.prompts ?? [];
  let index = 0;
  let matched = 0;
  let found = 0;
  let failures = 0;
  for (const layer of kit.manifest.layers ?? []) {
    throwIfAborted(o.signal);
    const type = parseLayerType(layer.mediaType);
    if (!type) {
      log.warn(`Unknown media type ${layer.mediaType}: skipping`);
      continue;
    }
    if (type.base !== "code" || layer.annotations?.[ANNOTATION_LAYER_SUBTYPE] !== "prompt") continue;
    const prompt = prompts[index++];
    if (!prompt || !matchesFilters(o.filters, "prompt", prompt)) continue;
    matched++;
    let read;
    try {
      if (type.format !== "tar") throw new KitError(`prompt layer ${JSON.stringify(prompt.path ?? "")} is not a tar layer`);
      if (layer.size > MAX_SKILL_LAYER_BYTES) throw new KitError(`prompt layer ${JSON.stringify(prompt.path ?? "")} compressed size (${layer.size} bytes) exceeds maximum (${MAX_SKILL_LAYER_BYTES} bytes)`);
      let body = await source.fetch(layer, { signal: o.signal });
      if (type.compression === "gzip") body = body.pipeThrough(gunzipStream());
      else if (type.compression === "zstd") body = body.pipeThrough(zstdDecompressStream());
      read = await readSkillLayer(body, prompt, o.signal);
    } catch (e) {
      log.warn(`Error reading prompt ${JSON.stringify(prompt.path ?? "")}: ${(e as Error).message}`);
      failures++;
      continue;
    }
    if (!read.skill) {
      log.info(`Skipping prompt ${JSON.stringify(prompt.path ?? "")}: not a SKILL.md, cannot install as skill`);
      continue;
    }
    found++;
    const name = deriveSkillName(read.skill.name, prompt, o.repository);
    const outcomes = await installSkill(read.entries, name, o);
    failures += outcomes.filter((r) => r.error).length;
  }
  if (matched === 0) {
    log.info("No prompt layers matched the specified filters");
    return;
  }
  if (found === 0 && failures === 0) {
    log.info("No agent skills found in modelkit. Prompt layers must contain a SKILL.md file to be installed as skills.");
    return;
  }
  if (failures > 0) throw new KitError(`failed to install ${failures} skill(s)`);
}


/** The skill `kit skill` installs: kit's own SKILL.md, named after its front-matter (`kitops`). */
export const KIT_SKILL = { name: "kitops", markdown: KIT_SKILL_MD };

/** `kit skill`: installs {@link KIT_SKILL} for the agents; throws when some agent failed. */
export async function installKitSkill(o: SkillInstallOptions): Promise<void> {
  const content = new TextEncoder().encode(KIT_SKILL.markdown);
  const outcomes = await installSkill([{ name: "SKILL.md", type: "file", mode: 0o644, content }], KIT_SKILL.name, o);
  const failed = outcomes.filter((r) => r.error).length;
  if (failed > 0) throw new KitError(`failed to install skill for ${failed} agent(s)`);
}
