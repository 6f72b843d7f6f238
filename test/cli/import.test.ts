/**
 * kit import and kit init --remote, in process, against the fake Hub: the messages, the edit
 * prompt on a terminal (kit's flow, $EDITOR, the resume command without an editor), -f, and
 * what is downloaded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EDIT_PROMPT } from "../../src/cli/editor.ts";
import { startFakeHub, type FakeHub } from "../helpers/fake-hub.ts";
import { kitEnv } from "../helpers/kit.ts";

let hub: FakeHub;
const weights = new Uint8Array(200_000).map((_, i) => i % 241);
const files = {
  "model.safetensors": weights,
  "config.json": '{"a":1}',
  "README.md": "# tiny\n",
  "LICENSE": "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n",
  "src/run.py": "print(1)\n",
};
const GENERATED = `manifestVersion: 1.0.0
package:
  name: tiny
  authors: [acme]
model:
  name: model
  path: model.safetensors
  license: Apache-2.0
  parts:
    - path: config.json
code:
  - path: src/
docs:
  - path: LICENSE
    description: License file
  - path: README.md
    description: Readme file
`;

beforeAll(async () => {
  hub = await startFakeHub();
  hub.addRepo("acme/tiny", { files });
});
afterAll(() => hub.close());

const env = () => kitEnv("kit-import-", { HF_ENDPOINT: hub.endpoint });
const downloads = (from: number) => hub.requests.slice(from).filter((r) => r.server === "hub" && r.path.includes("/resolve/")).map((r) => r.path.replace(/^.*\/resolve\/[0-9a-f]+\//, "")).sort();

describe("kit import", () => {
  test("prints kit's messages, downloads only packed files and tags the ModelKit", async () => {
    const k = env();
    const before = hub.requests.length;
    const r = await k.run(["import", "acme/tiny"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`Using tag acme/tiny:latest. Use flag --tag to override\nGenerated Kitfile:\n\n${GENERATED}\nDownloading file `);
    expect(r.stdout).toContain("\nPacking model to acme/tiny:latest\nSaved model layer: sha256:");
    expect(r.stdout).toEndWith("Model is packed as acme/tiny:latest\n");
    // LICENSE is read for the license check (before the Kitfile is settled) and downloaded as docs.
    expect(downloads(before)).toEqual(["LICENSE", "LICENSE", "README.md", "config.json", "model.safetensors", "src/run.py"]);
    const info = await k.run(["info", "acme/tiny:latest"]);
    expect(info.stdout).toBe(GENERATED);
    expect(existsSync(path.join(k.home, "cache", "import"))).toBe(true);
    expect(readDirNames(path.join(k.home, "cache", "import"))).toEqual([]);
  });

  test("on a terminal kit offers to edit the Kitfile; 'n' packs the generated one", async () => {
    const k = env();
    const r = await k.run(["import", "acme/tiny", "-t", "mine:v1"], { stdinIsTTY: true, answers: ["n"] });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Generated Kitfile:\n\n${GENERATED}\n${EDIT_PROMPT}Downloading file `);
    expect(EDIT_PROMPT).toBe("Would you like to edit Kitfile before packing? (y/N): ");
  });

  test("'y' opens $EDITOR; only the files of the edited Kitfile are downloaded", async () => {
    const k = env();
    const editor = path.join(k.root, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nprintf 'manifestVersion: 1.0.0\\npackage:\\n  name: edited\\nmodel:\\n  path: model.safetensors\\n' > "$1"\n`);
    chmodSync(editor, 0o755);
    const before = hub.requests.length;
    const r = await k.run(["import", "acme/tiny", "-t", "mine:v1"], { stdinIsTTY: true, answers: ["Yes"], env: { EDITOR: editor } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(downloads(before)).toEqual(["LICENSE", "model.safetensors"]);
    expect((await k.run(["info", "mine:v1"])).stdout).toBe("manifestVersion: 1.0.0\npackage:\n  name: edited\nmodel:\n  path: model.safetensors\n");
  });

  test("without an editor kit says where the Kitfile is and which command finishes the import", async () => {
    const k = env();
    const r = await k.run(["import", "acme/tiny", "--ref", "main", "-t", "mine:v2"], { stdinIsTTY: true, answers: ["y"], env: { PATH: "" } });
    expect(r.code).toBe(1);
    const m = /^\[WARN \] {5}(\/.*\/Kitfile)$/m.exec(r.stderr);
    expect(m).not.toBeNull();
    const kitfile = m![1]!;
    expect(r.stderr).toBe([
      "[WARN ] Could not determine default editor from $EDITOR environment variable",
      "[WARN ] Please manually edit Kitfile at path",
      `[WARN ]     ${kitfile}`,
      "[WARN ] And run command",
      `[WARN ]     kit import acme/tiny -t mine:v2 -f ${kitfile}`,
      "[WARN ] To complete process",
      "[ERROR] No editor found",
      "",
    ].join("\n"));
    expect(readFileSync(kitfile, "utf8")).toBe(GENERATED);
    writeFileSync(kitfile, "manifestVersion: 1.0.0\nmodel:\n  path: model.safetensors\n");
    const before = hub.requests.length;
    const again = await k.run(["import", "acme/tiny", "-t", "mine:v2", "-f", kitfile]);
    expect(again.code).toBe(0);
    expect(downloads(before)).toEqual(["model.safetensors"]);
    expect(existsSync(kitfile)).toBe(false); // the work directory is gone once the ModelKit is stored
  });

  test("a non-default ref shows in the resume command", async () => {
    hub.addRepo("acme/refs", { files: { "m.gguf": "gguf" }, refs: ["dev"] });
    const k = env();
    const r = await k.run(["import", "acme/refs", "--ref", "dev", "-t", "x:y"], { stdinIsTTY: true, answers: ["y"], env: { PATH: "" } });
    expect(r.stderr).toMatch(/\n\[WARN \] {5}kit import acme\/refs --ref dev -t x:y -f \/.*\/Kitfile\n/);
  });

  test("-f - reads the Kitfile from standard input", async () => {
    const k = env();
    const before = hub.requests.length;
    const r = await k.run(["import", "acme/tiny", "-t", "std:in", "-f", "-"], { stdin: "manifestVersion: 1.0.0\ndocs:\n  - path: README.md\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("Generated Kitfile");
    expect(downloads(before)).toEqual(["README.md"]);
  });

  test("argument errors", async () => {
    const k = env();
    expect((await k.run(["import", "acme/tiny", "--tool", "svn"])).stderr).toBe("[ERROR] Invalid value for --tool flag. Valid options are: git, hf\n");
    const t = await k.run(["import", "https://example.com/a/b/c.git"]);
    expect(t.stderr).toBe("[ERROR] Could not generate tag from URL: could not extract organization and repository from 'a/b/c.git'\n[ERROR] Use flag --tag to set a tag for ModelKit\n");
    expect((await k.run(["import", "acme/tiny", "--concurrency", "0"])).stderr).toBe("[ERROR] Invalid arguments: invalid argument for concurrency (0): must be at least 1\n");
    const p = await k.run(["import", "acme/tiny", "-t", "x:y", "-f", "-"]);
    expect(p.stderr).toStartWith("[ERROR] ");
    const missing = await k.run(["import", "acme/tiny", "-t", "x:y", "-f", "-"], { stdin: "manifestVersion: 1.0.0\nmodel:\n  path: nope.bin\n" });
    expect(missing.stderr).toBe(`[ERROR] Path nope.bin of the Kitfile is not in acme/tiny at main (commit ${hub.head("acme/tiny")})\n`);
  });
});

describe("kit init --remote", () => {
  test("prints the Kitfile kit import would generate, without downloading", async () => {
    const k = env();
    const before = hub.requests.length;
    const r = await k.run(["init", "--remote", "acme/tiny"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(GENERATED);
    expect(downloads(before)).toEqual(["LICENSE"]);
  });

  test("-o writes a file; --name and --depth apply; an unknown ref is kit's error", async () => {
    const k = env();
    const out = path.join(k.root, "Kitfile.remote");
    const r = await k.run(["init", "--remote", `${hub.endpoint}/acme/tiny`, "--name", "other", "--depth", "1", "-o", out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("package:\n  name: other\n  authors: [acme]\n");
    expect(readFileSync(out, "utf8")).toContain("code:\n  - path: src/run.py\n");
    const bad = await k.run(["init", "--remote", "acme/tiny", "--ref", "nope"]);
    expect(bad.stderr).toBe("[ERROR] Reference 'nope' not found in repository acme/tiny\n");
    expect(bad.stdout).toBe("Check the branch, tag or commit given with --ref\n");
    expect((await k.run(["init"])).stderr).toStartWith("Error: accepts 1 arg(s), received 0\n");
  });
});

function readDirNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => !n.endsWith(".lock"));
}
