import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { KitfileError } from "../../src/kitfile/errors.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { assertValidKitfile } from "../../src/kitfile/validate.ts";
import expected from "../fixtures/kitfiles/bad/expected.json";

const dir = path.join(import.meta.dir, "../fixtures/kitfiles/bad");

interface Row {
  file: string;
  stage: "parse" | "validate";
  message: string;
}
const rows = expected as Row[];

describe("malformed Kitfiles (test/fixtures/kitfiles/bad)", () => {
  test("the table covers every fixture, and there are at least 20", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
    expect(rows.map((r) => r.file).sort()).toEqual(files);
    expect(files.length).toBeGreaterThanOrEqual(20);
    expect(rows.filter((r) => r.stage === "parse").length).toBeGreaterThanOrEqual(10);
    expect(rows.filter((r) => r.stage === "validate").length).toBeGreaterThanOrEqual(10);
  });

  for (const row of rows) {
    test(`${row.file} is rejected while ${row.stage === "parse" ? "parsing" : "validating"}`, () => {
      const text = readFileSync(path.join(dir, row.file), "utf8");
      let error: unknown;
      try {
        const { kitfile } = parseKitfile(text, "Kitfile");
        expect(row.stage).toBe("validate");
        assertValidKitfile(kitfile);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KitfileError);
      expect((error as Error).message).toBe(row.message);
    });
  }
});
