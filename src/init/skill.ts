/**
 * SKILL.md front-matter for `kit init` (docs/format.md#init; KitOps v1.12): a directory holding a file named
 * `SKILL.md` (any case) is one prompt entry whose name and description come from the YAML block
 * between a first line `---` and the next line `---` (CRLF accepted).
 * @module
 */

import { isMap, isScalar, parseDocument } from "yaml";
import type { Logger } from "../util/log.ts";
import type { DirectoryListing, FileListing } from "./dir-listing.ts";

export interface SkillFrontMatter {
  name: string;
  description: string;
  license: string;
}

/** The SKILL.md file of a directory, if it has one (name compared case-insensitively). */
export function findSkillFile(dir: DirectoryListing): FileListing | undefined {
  return dir.files.find((f) => f.name.toLowerCase() === "skill.md");
}

/**
 * Parses the front-matter of SKILL.md text. Returns undefined when there is none, it is blank, or
 * it is malformed (then `Malformed frontmatter in <path>: <reason>` is logged as a warning). Keys
 * other than name/description/license are ignored; non-string scalars keep their literal text.
 */
export function parseSkillFrontMatter(text: string, path: string, logger: Logger): SkillFrontMatter | undefined {
  const lines = text.replaceAll("\r\n", "\n").split("\n");
  if (lines[0] !== "---") return undefined;
  const end = lines.indexOf("---", 1);
  if (end < 0) return undefined;
  const yamlText = lines.slice(1, end).join("\n");
  if (yamlText.trim() === "") return undefined;

  const malformed = (reason: string) => {
    logger.warn(`Malformed frontmatter in ${path}: ${reason}`);
    return undefined;
  };
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) return malformed(doc.errors[0]!.message.split("\n")[0]!);
  const fm: SkillFrontMatter = { name: "", description: "", license: "" };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return fm;
  if (!isMap(root)) return malformed("front-matter is not a mapping");
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : undefined;
    if (key !== "name" && key !== "description" && key !== "license") continue;
    const v = item.value;
    if (v === null || v === undefined) continue;
    if (!isScalar(v)) return malformed(`${key} must be a string`);
    if (v.value === null) fm[key] = "";
    else if (typeof v.value === "string") fm[key] = v.value;
    else fm[key] = v.source ?? String(v.value);
  }
  return fm;
}
