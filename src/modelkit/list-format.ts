/**
 * `kit list --format`: the table (Go `text/tabwriter`, padding 3), JSON (Go `MarshalIndent`) and
 * Go templates (compat §1.4). Templates support what kit documents — the fields `.Repo`, `.Tags`,
 * `.Digest`, `.ModelName`, `.Size`, `.Author`, `index .Tags N`, literal text, `{{-`/`-}}` trim
 * markers and comments — and refuse anything else with an error naming the construct.
 * @module
 */
import { KitError } from "../util/errors.ts";
import { goJsonIndent } from "../util/go-json.ts";
import { terminalSafe } from "../util/log.ts";
import type { ModelKitInfo } from "./kit-listing.ts";

// ---------------------------------------------------------------------------------------------
// Go text/tabwriter (padchar ' ', flags 0)

/**
 * Aligns tab-separated cells the way Go's `tabwriter.NewWriter(w, minwidth, _, padding, ' ', 0)`
 * does: a column is as wide as its widest cell plus `padding` over each block of consecutive
 * lines that have that column; the last cell of a line is never padded. Widths count code points.
 */
export function tabwrite(text: string, minwidth: number, padding: number): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const width = (s: string) => [...s].length;
  const widths: number[] = [];
  let out = "";
  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        out += c;
        if (j < widths.length) out += " ".repeat(Math.max(0, widths[j]! - width(c)));
      }
      if (i + 1 < lines.length) out += "\n";
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

export const LIST_TABLE_HEADER = "REPOSITORY\tTAG\tMAINTAINER\tNAME\tSIZE\tDIGEST";

/**
 * The table: a header, then one row per tag (`<none>` for untagged kits). Cells are made
 * {@link terminalSafe} (a tab or newline in a Kitfile's name is escaped too, so rows stay rows).
 */
export function formatListTable(infos: ModelKitInfo[]): string {
  let text = LIST_TABLE_HEADER + "\n";
  for (const m of infos) {
    for (const tag of m.tags ?? ["<none>"]) text += [m.repo, tag, m.author, m.modelName, m.size, m.digest].map((c) => terminalSafe(c, true)).join("\t") + "\n";
  }
  return tabwrite(text, 0, 3);
}

/** `json.MarshalIndent(list, "", "  ")` plus a newline; `[]` when empty. */
export function formatListJson(infos: ModelKitInfo[]): string {
  const rows = infos.map((m) => ({ repo: m.repo, digest: m.digest, tags: m.tags, modelName: m.modelName, size: m.size, author: m.author }));
  return goJsonIndent(rows, "  ") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Go text/template, the part kit documents

const TEMPLATE_NAME = "list";
/** Go field names of kit's `modelInfo`. */
const FIELDS: Record<string, (m: ModelKitInfo) => string | string[] | null> = {
  Repo: (m) => m.repo,
  Digest: (m) => m.digest,
  Tags: (m) => m.tags,
  ModelName: (m) => m.modelName,
  Size: (m) => m.size,
  Author: (m) => m.author,
};
const SUPPORTED = "{{ .Repo }}, {{ .Tags }}, {{ index .Tags N }}, {{ .Digest }}, {{ .ModelName }}, {{ .Size }}, {{ .Author }}";

type Node =
  | { kind: "text"; text: string }
  | { kind: "field"; name: string; pos: number; src: string }
  | { kind: "index"; field: string; index: number; pos: number; src: string };

/** A parsed `--format` template. */
export interface ListTemplate {
  source: string;
  nodes: Node[];
}

/** A template execution error (Go `ExecError`); `partial` is what was written before it. */
export class TemplateExecError extends KitError {
  override name = "TemplateExecError";
  readonly partial: string;
  constructor(message: string, partial: string) {
    super(message);
    this.partial = partial;
  }
}

const SPACE = /[ \t\r\n]/;

/** Go's `name:line:col` of the node at string index `i` (col = byte offset within its line). */
function location(src: string, i: number): string {
  const before = src.slice(0, i);
  const nl = before.lastIndexOf("\n");
  const col = new TextEncoder().encode(before.slice(nl + 1)).length;
  return `${TEMPLATE_NAME}:${lineOf(src, i)}:${col}`;
}

function lineOf(src: string, i: number): number {
  return src.slice(0, i).split("\n").length;
}

function unsupported(action: string): KitError {
  return new KitError(
    `template: ${TEMPLATE_NAME}: unsupported template construct "${action}": kit list templates support ${SUPPORTED}, literal text, {{- -}} trim markers and comments`,
  );
}

/** Parses a `--format` template; throws for syntax errors and for constructs outside the supported set. */
export function parseListTemplate(source: string): ListTemplate {
  const nodes: Node[] = [];
  let i = 0;
  let text = "";
  let trimNextText = false;
  const pushText = (t: string) => {
    if (trimNextText) t = t.replace(/^[ \t\r\n]+/, "");
    trimNextText = false;
    text += t;
  };
  const flushText = () => {
    if (text) nodes.push({ kind: "text", text });
    text = "";
  };
  while (i < source.length) {
    const open = source.indexOf("{{", i);
    if (open < 0) {
      pushText(source.slice(i));
      break;
    }
    pushText(source.slice(i, open));
    let j = open + 2;
    // `{{- ` trims the preceding text (the dash must be followed by a space).
    if (source[j] === "-" && SPACE.test(source[j + 1] ?? "")) {
      text = text.replace(/[ \t\r\n]+$/, "");
      j += 2;
    }
    const start = j;
    // Find the closing delimiter, skipping quoted text and comments.
    let close = -1;
    let k = j;
    while (k < source.length) {
      const c = source[k]!;
      if (c === '"' || c === "`" || c === "'") {
        const q = c;
        k++;
        while (k < source.length && source[k] !== q) k += source[k] === "\\" && q !== "`" ? 2 : 1;
        k++;
        continue;
      }
      if (c === "/" && source[k + 1] === "*") {
        const end = source.indexOf("*/", k + 2);
        if (end < 0) throw new KitError(`template: ${TEMPLATE_NAME}:${lineOf(source, open)}: unclosed comment`);
        k = end + 2;
        continue;
      }
      if (c === "}" && source[k + 1] === "}") {
        close = k;
        break;
      }
      k++;
    }
    if (close < 0) throw new KitError(`template: ${TEMPLATE_NAME}:${lineOf(source, open)}: unclosed action`);
    let end = close;
    // ` -}}` trims the following text.
    if (source[close - 1] === "-" && close - 2 >= start && SPACE.test(source[close - 2] ?? "")) {
      end = close - 2;
      trimNextText = true;
    }
    const body = source.slice(start, end);
    const action = source.slice(open, close + 2);
    i = close + 2;
    const trimmed = body.trim();
    flushText();
    if (trimmed.startsWith("/*")) {
      if (!body.startsWith("/*") || !body.endsWith("*/")) {
        throw new KitError(`template: ${TEMPLATE_NAME}:${lineOf(source, open)}: comment ends before closing delimiter`);
      }
      continue;
    }
    if (trimmed === "") throw new KitError(`template: ${TEMPLATE_NAME}:${lineOf(source, open)}: missing value for command`);
    const lead = body.length - body.trimStart().length;
    const pos = start + lead;
    const words = trimmed.split(/[ \t\r\n]+/);
    if (words.length === 1 && /^\.[A-Za-z_][A-Za-z0-9_]*$/.test(words[0]!)) {
      nodes.push({ kind: "field", name: words[0]!.slice(1), pos, src: words[0]! });
      continue;
    }
    if (words.length === 3 && words[0] === "index" && words[1] === ".Tags" && /^(0|[1-9][0-9]*)$/.test(words[2]!)) {
      nodes.push({ kind: "index", field: "Tags", index: Number(words[2]), pos, src: words.join(" ") });
      continue;
    }
    throw unsupported(action);
  }
  flushText();
  return { source, nodes };
}

/** Go's `fmt.Print` of a field value: strings as they are, a string slice as `[a b]`. */
function printValue(v: string | string[] | null): string {
  if (v === null) return "[]";
  return Array.isArray(v) ? `[${v.join(" ")}]` : v;
}

/** Executes the template for one ModelKit. Throws {@link TemplateExecError} as Go's template does. */
export function executeListTemplate(t: ListTemplate, m: ModelKitInfo): string {
  let out = "";
  for (const n of t.nodes) {
    if (n.kind === "text") {
      out += n.text;
      continue;
    }
    const at = (msg: string) =>
      new TemplateExecError(`template: ${location(t.source, n.pos)}: executing "${TEMPLATE_NAME}" at <${n.src}>: ${msg}`, out);
    const get = FIELDS[n.kind === "field" ? n.name : n.field];
    if (!get) throw at(`can't evaluate field ${n.kind === "field" ? n.name : n.field} in type list.modelInfo`);
    const v = get(m);
    if (n.kind === "field") {
      out += printValue(v);
      continue;
    }
    const arr = Array.isArray(v) ? v : [];
    if (n.index >= arr.length) throw at(`error calling index: index out of range: ${n.index}`);
    out += arr[n.index]!;
  }
  return out;
}

/**
 * The whole `kit list` output for `format` (`table`/empty, `json`, or a template), passed to
 * `write` as it is produced. A template error is thrown (wrapped, Go's text kept) after what was
 * produced before it has been written, as Go writes template output as it executes.
 */
export function writeList(infos: ModelKitInfo[], format: string, write: (s: string) => void): void {
  if (format === "" || format === "table") {
    write(formatListTable(infos));
    return;
  }
  if (format === "json") {
    write(formatListJson(infos));
    return;
  }
  let t: ListTemplate;
  try {
    t = parseListTemplate(format);
  } catch (e) {
    throw new KitError(`Error parsing --format template: ${(e as Error).message}`, { cause: e });
  }
  for (const m of infos) {
    let s: string;
    try {
      s = executeListTemplate(t, m);
    } catch (e) {
      if (e instanceof TemplateExecError && e.partial) write(e.partial);
      throw new KitError(`Error executing --format template: ${(e as Error).message}`, { cause: e });
    }
    write(format.endsWith("\n") ? s : s + "\n");
  }
}
