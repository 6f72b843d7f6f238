/**
 * `kit list --format`: the table (Go `text/tabwriter`, padding 3), JSON (Go `MarshalIndent`) and
 * Go templates (docs/format.md#list), executed by the Go `text/template` engine over kit's
 * `modelInfo` (`.Repo`, `.Tags`, `.Digest`, `.ModelName`, `.Size`, `.Author`).
 * @module
 */
import { KitError } from "../util/errors.ts";
import { GoSlice, GoStruct } from "../util/go-fmt.ts";
import { goJsonIndent } from "../util/go-json.ts";
import { GoTemplate, JSON_FUNC, TemplateExecError, TemplateParseError } from "../util/go-template.ts";
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
// Go text/template

const TEMPLATE_NAME = "list";

/** kit's template functions: Go's builtins plus `json` (an addition: kit itself has none). */
const LIST_FUNCS = { json: JSON_FUNC };

/** The value a template sees: kit's `list.modelInfo` struct (Go field names, JSON names). */
export function modelInfoValue(m: ModelKitInfo): GoStruct {
  return new GoStruct("list.modelInfo", [
    { name: "Repo", type: "string", json: "repo", value: m.repo },
    { name: "Digest", type: "string", json: "digest", value: m.digest },
    { name: "Tags", type: "[]string", json: "tags", value: new GoSlice("string", m.tags) },
    { name: "ModelName", type: "string", json: "modelName", value: m.modelName },
    { name: "Size", type: "string", json: "size", value: m.size },
    { name: "Author", type: "string", json: "author", value: m.author },
  ]);
}

/** Parses a `--format` template as Go's `template.New("list").Parse` does; throws {@link TemplateParseError}. */
export function parseListTemplate(source: string): GoTemplate {
  return GoTemplate.parse(TEMPLATE_NAME, source, LIST_FUNCS);
}

/** Executes the template for one ModelKit. Throws {@link TemplateExecError} (with the partial output) as Go's template does. */
export function executeListTemplate(t: GoTemplate, m: ModelKitInfo): string {
  return t.execute(modelInfoValue(m));
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
  let t: GoTemplate;
  try {
    t = parseListTemplate(format);
  } catch (e) {
    if (!(e instanceof TemplateParseError)) throw e;
    throw new KitError(`Error parsing --format template: ${(e as Error).message}`, { cause: e });
  }
  for (const m of infos) {
    let s: string;
    try {
      s = executeListTemplate(t, m);
    } catch (e) {
      if (!(e instanceof TemplateExecError)) throw e;
      if (e.partial) write(e.partial);
      throw new KitError(`Error executing --format template: ${(e as Error).message}`, { cause: e });
    }
    write(format.endsWith("\n") ? s : s + "\n");
  }
}
