import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateKitfile, type GenerateOptions } from "../../src/init/generate.ts";
import { chooseModel } from "../../src/init/model.ts";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { validateKitfile } from "../../src/kitfile/validate.ts";
import { kitfileToYaml } from "../../src/kitfile/yaml.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { type FileEntry, writeFiles } from "../helpers/files.ts";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "kit-init-test-"));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

let counter = 0;
/** Creates a directory tree; keys are `/`-separated paths, a key ending in `/` is an empty dir. */
function tree(files: Record<string, FileEntry>): string {
  return writeFiles(path.join(tmpRoot, `t${counter++}`), files);
}

async function generate(dir: string, opts: Omit<GenerateOptions, "logger"> = {}) {
  const logger = memoryLogger("info");
  const kitfile = await generateKitfile(dir, { ...opts, logger });
  const yaml = kitfileToYaml(kitfile);
  // Every generated Kitfile reads back unchanged and passes the newest validation rules.
  expect(parseKitfile(yaml, "Kitfile").kitfile).toEqual(kitfile);
  expect(validateKitfile(kitfile)).toEqual({ errors: [], warnings: [] });
  return { yaml, kitfile, out: logger.out.join(""), err: logger.err.join("") };
}

// License excerpts (distinctive sentences only).
const MIT_TEXT =
  "MIT License\n\nCopyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n" +
  "of this software and associated documentation files ...\n\nThe above copyright notice and this permission notice\n" +
  "shall be included in all copies or substantial portions of the Software.\n";
const APACHE_TEXT = "\n        Apache License\n      Version 2.0, January 2004\n   http://www.apache.org/licenses/\n";
const UNDETERMINED = "[WARN ] Unable to determine license type\n";

describe("generateKitfile", () => {
  test("test_type-detect layout (docs/format.md#init)", async () => {
    const dir = tree({
      "a-model.gguf": "",
      "b-model.safetensors": "",
      "c-model.pkl": "",
      "d-model.pb": "",
      "a-dataset.tar": "",
      "b-dataset.csv": "",
      "c-dataset.zip": "",
      "a-docs.md": "",
      "b-docs.adoc": "",
      "c-docs.pdf": "",
      "README.md": "",
      LICENSE: "",
      "test.sh": "",
      "bootstrap.sh": "",
      "main.sh": "",
      "common.sh": "",
      "utility.sh": "",
      "shared.sh": "",
    });
    const r = await generate(dir, { name: "test-model-detect", description: "Detects type of files based on extension" });
    // Same bytes as kit v1.7 generates for this layout: the newest rules differ from v1.7 only in
    // ways this layout does not exercise (no `.bin` file, no sub-directories; its six unknown
    // files exceed the limit of five, so the newest rule also yields the single catch-all `.`).
    expect(r.yaml).toBe(`manifestVersion: 1.0.0
package:
  name: test-model-detect
  description: Detects type of files based on extension
model:
  path: a-model.gguf
  parts:
    - path: b-model.safetensors
    - path: c-model.pkl
    - path: d-model.pb
code:
  - path: .
datasets:
  - path: a-dataset.tar
  - path: b-dataset.csv
  - path: c-dataset.zip
docs:
  - path: LICENSE
    description: License file
  - path: README.md
    description: Readme file
  - path: a-docs.md
  - path: b-docs.adoc
  - path: c-docs.pdf
`);
    // The empty LICENSE cannot be identified.
    expect(r.err).toBe(UNDETERMINED);
  });

  test("Hugging Face style model directory", async () => {
    const dir = tree({
      "config.json": "{}",
      "generation_config.json": "{}",
      "model.safetensors": 5000,
      "special_tokens_map.json": "{}",
      "tokenizer.json": "{}",
      "tokenizer_config.json": "{}",
      "README.md": "# model",
      LICENSE: APACHE_TEXT,
      ".gitattributes": "*.safetensors filter=lfs",
      ".git/HEAD": "ref: refs/heads/main\n",
      ".git/objects/ab/cdef": 10,
    });
    const r = await generate(dir);
    expect(r.yaml).toBe(`manifestVersion: 1.0.0
model:
  name: model
  path: model.safetensors
  license: Apache-2.0
  parts:
    - path: config.json
    - path: generation_config.json
    - path: special_tokens_map.json
    - path: tokenizer.json
    - path: tokenizer_config.json
docs:
  - path: LICENSE
    description: License file
  - path: README.md
    description: Readme file
`);
    expect(r.err).toBe("");
  });

  test("sharded safetensors of equal size: first shard is the model, no name", async () => {
    const dir = tree({
      "model-00001-of-00002.safetensors": 100,
      "model-00002-of-00002.safetensors": 100,
      "model.safetensors.index.json": 50,
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  path: model-00001-of-00002.safetensors
  parts:
    - path: model-00002-of-00002.safetensors
    - path: model.safetensors.index.json
`);
  });

  test("`.bin` is a model only as *pytorch_model*.bin", async () => {
    const dir = tree({
      "pytorch_model.bin": 10,
      "training_args.bin": 10,
      "weights/pytorch_model-00001.bin": 10,
    });
    // With depth 1, weights/ is classified file by file: kit matched its glob against the relative
    // path there, which `*` cannot cross, and missed the file; we match the base name.
    // training_args.bin is unknown → its own code entry.
    expect((await generate(dir, { depth: 1 })).yaml).toBe(`manifestVersion: 1.0.0
model:
  path: pytorch_model.bin
  parts:
    - path: weights/pytorch_model-00001.bin
code:
  - path: training_args.bin
`);
  });

  test("one dominant model file among several", async () => {
    const dir = tree({
      "adapter-a.safetensors": 10,
      "adapter-b.safetensors": 10,
      "big.gguf": 1000,
      "params.yaml": "a: 1\n",
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: big
  path: big.gguf
  parts:
    - path: adapter-a.safetensors
    - path: adapter-b.safetensors
    - path: params.yaml
`);
  });

  test("dataset directory, metadata without a model become datasets, single dataset gets the license", async () => {
    const dir = tree({
      "data/train.csv": "a,b\n",
      "data/test.csv": "a,b\n",
      "data/meta.json": "{}",
      LICENSE: MIT_TEXT,
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
datasets:
  - path: data/
    license: MIT
docs:
  - path: LICENSE
    description: License file
`);
  });

  test("directory handling: special names, model/dataset/docs-only dirs, mixed dirs", async () => {
    const dir = tree({
      "src/test-file.sh": "",
      "pkg/test-file.sh": "",
      "lib/test-file.sh": "",
      "build/test-file.sh": "",
      "docs/documentation-file": "",
      "model-contents/my-model1.gguf": "",
      "model-contents/my-model2.gguf": "",
      "model-contents/z-metadata.json": "",
      "dataset-contents/dataset-001.zip": "",
      "dataset-contents/dataset-002.zip": "",
      "dataset-contents/z-metadata.json": "",
      "my-files/doc1.md": "",
      "my-files/doc2.md": "",
      "my-files/new.pdf": "",
      "mixed-contents/documentation.md": "",
      "mixed-contents/dataset.csv": "",
      "mixed-contents/meta.json": "",
      "x-mixed/weights.onnx": "",
      "x-mixed/run.py": "",
    });
    // Code entries come in listing order (newest kit adds each directory as it is met; v1.7 put
    // special-name dirs first) and directory paths end in `/`. A model file in a mixed directory
    // still joins the model candidates.
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  path: model-contents/my-model1.gguf
  parts:
    - path: model-contents/my-model2.gguf
    - path: model-contents/z-metadata.json
    - path: x-mixed/weights.onnx
code:
  - path: build/
  - path: lib/
  - path: mixed-contents/
  - path: pkg/
  - path: src/
  - path: x-mixed/
datasets:
  - path: dataset-contents/
docs:
  - path: docs/
  - path: my-files/
`);
  });

  test("unknown files: up to five are listed, more become the catch-all `.`", async () => {
    const five = tree({ "a.sh": "", "b.py": "", "c.sh": "", "d": "", "e.sh": "", "model.onnx": 1 });
    expect((await generate(five)).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: model
  path: model.onnx
code:
  - path: a.sh
  - path: b.py
  - path: c.sh
  - path: d
  - path: e.sh
`);
    // The catch-all is appended after directory code entries (kit v1.7 replaced them instead).
    const six = tree({ "a.sh": "", "b.sh": "", "c.sh": "", "d.sh": "", "e.sh": "", "f.sh": "", "src/x.go": "" });
    expect((await generate(six)).yaml).toBe(`manifestVersion: 1.0.0
code:
  - path: src/
  - path: .
`);
  });

  test("more than five unclassifiable directories are each listed (newest kit)", async () => {
    // kit v1.7 collapsed more than five unprocessed directories into `code: [{path: .}]`; the
    // newest kit adds each such directory as its own code entry, whatever their number.
    const dir = tree({
      "d1/a.py": "",
      "d2/a.py": "",
      "d3/a.py": "",
      "d4/a.py": "",
      "d5/a.py": "",
      "d6/a.py": "",
      "empty/": 0,
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
code:
  - path: d1/
  - path: d2/
  - path: d3/
  - path: d4/
  - path: d5/
  - path: d6/
  - path: empty/
`);
  });

  test("integer math in the dominance test (8 > 5 + 5/2 = 7, where float math gives 8.25)", () => {
    const files = [
      { name: "a.gguf", path: "a.gguf", size: 3 },
      { name: "b.gguf", path: "b.gguf", size: 8 },
    ];
    expect(chooseModel(files)).toEqual({ name: "b", path: "b.gguf", parts: [{ path: "a.gguf" }] });
    const even = [
      { name: "a.gguf", path: "a.gguf", size: 7 },
      { name: "b.gguf", path: "b.gguf", size: 3 },
    ];
    expect(chooseModel(even)).toEqual({ path: "a.gguf", parts: [{ path: "b.gguf" }] });
    expect(chooseModel([])).toBeUndefined();
  });

  describe("license attachment", () => {
    test("model wins", async () => {
      const dir = tree({ "m.gguf": 1, "d.csv": "", LICENSE: MIT_TEXT });
      expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: m
  path: m.gguf
  license: MIT
datasets:
  - path: d.csv
docs:
  - path: LICENSE
    description: License file
`);
    });

    test("no model, two datasets, one code entry → code", async () => {
      const dir = tree({ "a.csv": "", "b.csv": "", "run.py": "", "LICENSE.txt": APACHE_TEXT });
      expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
code:
  - path: run.py
    license: Apache-2.0
datasets:
  - path: a.csv
  - path: b.csv
docs:
  - path: LICENSE.txt
    description: License file
`);
    });

    test("nothing else fits → package", async () => {
      const dir = tree({ "a.csv": "", "b.csv": "", LICENSE: MIT_TEXT });
      expect((await generate(dir, { author: "Jane" })).yaml).toBe(`manifestVersion: 1.0.0
package:
  license: MIT
  authors: [Jane]
datasets:
  - path: a.csv
  - path: b.csv
docs:
  - path: LICENSE
    description: License file
`);
    });

    test("an undetectable license warns and attaches nothing", async () => {
      const dir = tree({ "m.gguf": 1, LICENSE: `${MIT_TEXT}\n${APACHE_TEXT}` });
      const r = await generate(dir);
      expect(r.yaml).toBe(`manifestVersion: 1.0.0
model:
  name: m
  path: m.gguf
docs:
  - path: LICENSE
    description: License file
`);
      expect(r.err).toBe(UNDETERMINED);
    });

    test("license files below the root are listed but not scanned", async () => {
      const dir = tree({ "sub/LICENSE": "nothing recognisable", "sub/m.gguf": 1 });
      const r = await generate(dir, { depth: 1 });
      expect(r.yaml).toBe(`manifestVersion: 1.0.0
model:
  name: m
  path: sub/m.gguf
docs:
  - path: sub/LICENSE
    description: License file
`);
      expect(r.err).toBe("");
    });
  });

  describe("skills and prompts", () => {
    const skill = (name: string, desc: string, license?: string) =>
      `---\nname: ${name}\ndescription: ${desc}\n${license ? `license: ${license}\n` : ""}---\n# ${name}\n`;

    test("a directory holding SKILL.md is one prompt; a lone skill names the package", async () => {
      const dir = tree({
        "pdf-tools/SKILL.md": skill("pdf-tools", "PDF processing", "Apache-2.0"),
        "pdf-tools/scripts/run.py": "",
      });
      expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
package:
  name: pdf-tools
  description: PDF processing
  license: Apache-2.0
prompts:
  - name: pdf-tools
    path: pdf-tools
    description: PDF processing
`);
    });

    test("several skills: no package name, license of the first skill", async () => {
      const dir = tree({
        "docx/SKILL.md": skill("docx", "Word processing", "MIT"),
        "xlsx/skill.md": skill("xlsx", "Spreadsheets", "Apache-2.0"),
        "docs/guide.md": "",
      });
      expect((await generate(dir, { name: "office" })).yaml).toBe(`manifestVersion: 1.0.0
package:
  name: office
  license: MIT
docs:
  - path: docs/
prompts:
  - name: docx
    path: docx
    description: Word processing
  - name: xlsx
    path: xlsx
    description: Spreadsheets
`);
    });

    test("root SKILL.md: single prompt `.`, package from front-matter unless given", async () => {
      const dir = tree({
        "SKILL.md": skill("root-skill", "Root level skill", "MIT"),
        "scripts/run.py": "",
        "sub/SKILL.md": skill("sub", "ignored"),
        "model.gguf": 10,
      });
      expect((await generate(dir, { description: "user desc" })).yaml).toBe(`manifestVersion: 1.0.0
package:
  name: root-skill
  description: user desc
  license: MIT
prompts:
  - name: root-skill
    path: .
    description: Root level skill
`);
    });

    test("malformed or missing front-matter: prompt without name, warning for malformed", async () => {
      const dir = tree({
        "bad/SKILL.md": "---\nname: [oops\n---\n# body\n",
        "plain/SKILL.md": "# no front matter\n",
        "crlf/SKILL.md": '---\r\nname: crlf\r\ndescription: "Windows: style"\r\n---\r\n',
      });
      const r = await generate(dir);
      // The only parsed front-matter (crlf) fills the package, as the Kitfile holds only prompts.
      expect(r.yaml).toBe(`manifestVersion: 1.0.0
package:
  name: crlf
  description: 'Windows: style'
prompts:
  - path: bad
  - name: crlf
    path: crlf
    description: 'Windows: style'
  - path: plain
`);
      expect(r.err).toStartWith("[WARN ] Malformed frontmatter in bad/SKILL.md: ");
      expect(r.err.split("\n").length).toBe(2); // one warning line, not one per look-up
    });

    test("agent and prompt files, prompt-only directory, mixed prompt directory", async () => {
      const dir = tree({
        "AGENTS.md": "",
        "CLAUDE.md": "",
        "my.prompt.md": "",
        "test.prompt.pdf": "",
        "suffix.prompt": "",
        "prompts-dir/my.prompt.one": "",
        "prompts-dir/my.prompt.two": "",
        "mixed-prompts/my.prompt.mixed": "",
        "mixed-prompts/notes.md": "",
        "prompt.md": "",
        "notes.md": "",
        "README.md": "",
      });
      expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
code:
  - path: mixed-prompts/
docs:
  - path: README.md
    description: Readme file
  - path: notes.md
  - path: prompt.md
prompts:
  - path: AGENTS.md
  - path: CLAUDE.md
  - path: my.prompt.md
  - path: suffix.prompt
  - path: test.prompt.pdf
  - path: prompts-dir/
`);
    });
  });

  test("MCP bundles become mcpServers named after their path without .mcpb", async () => {
    const dir = tree({
      "filesystem.mcpb": 10,
      "postgres.mcpb": 10,
      "servers/extra.mcpb": 10,
      "servers/servers.json": "{}",
      "tools/other.mcpb": 10,
      "tools/run.sh": "",
      "README.md": "",
    });
    // servers/ holds only bundles (plus metadata, which goes where root metadata goes);
    // tools/ is mixed → code, and its bundle still gets an mcpServers entry.
    expect((await generate(dir, { name: "test-mcp-server-detection" })).yaml).toBe(`manifestVersion: 1.0.0
package:
  name: test-mcp-server-detection
code:
  - path: tools/
datasets:
  - path: servers/servers.json
docs:
  - path: README.md
    description: Readme file
mcpServers:
  - name: filesystem
    path: filesystem.mcpb
  - name: postgres
    path: postgres.mcpb
  - name: servers/extra
    path: servers/extra.mcpb
  - name: tools/other
    path: tools/other.mcpb
`);
  });

  test("hidden files, .git and OS junk are skipped; Kitfile is not listed", async () => {
    const dir = tree({
      ".git/HEAD": "ref\n",
      ".git/config": "",
      ".DS_Store": 10,
      "Thumbs.db": 10,
      "desktop.ini": "",
      ".env": "SECRET=1",
      ".kitignore": "*.tmp",
      Kitfile: "manifestVersion: 1.0.0\n",
      "data/.DS_Store": 10,
      "data/a.csv": "",
      "m.gguf": 1,
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: m
  path: m.gguf
datasets:
  - path: data/
`);
  });

  test("symlinks are ignored", async () => {
    const dir = tree({
      "real.gguf": 10,
      "link.gguf": { symlink: "real.gguf" },
      "dirlink": { symlink: "." },
    });
    expect((await generate(dir)).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: real
  path: real.gguf
`);
  });

  test("--author alone creates a package with authors only", async () => {
    const dir = tree({ "m.gguf": 1 });
    expect((await generate(dir, { author: "Jane Doe" })).yaml).toBe(`manifestVersion: 1.0.0
package:
  authors: [Jane Doe]
model:
  name: m
  path: m.gguf
`);
  });

  test("empty directory", async () => {
    expect((await generate(tree({}))).yaml).toBe("manifestVersion: 1.0.0\n");
  });

  describe("--depth", () => {
    const layout = {
      "models/llama/model.gguf": 100,
      "models/llama/config.json": "{}",
      "models/notes.md": "",
      "data/train.csv": "",
      "data/extra/x.bin": 1,
      "data/extra/y.csv": "",
      "tools/run.sh": "",
    };

    test("0 (default): sub-directories are classified as a whole", async () => {
      expect((await generate(tree(layout))).yaml).toBe(`manifestVersion: 1.0.0
code:
  - path: data/
  - path: models/
  - path: tools/
`);
    });

    test("1: first-level files one by one, deeper directories as a whole", async () => {
      expect((await generate(tree(layout), { depth: 1 })).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: model
  path: models/llama/model.gguf
  parts:
    - path: models/llama/config.json
code:
  - path: data/extra/
  - path: tools/run.sh
datasets:
  - path: data/train.csv
docs:
  - path: models/notes.md
`);
    });

    test("negative: every level file by file", async () => {
      expect((await generate(tree(layout), { depth: -1 })).yaml).toBe(`manifestVersion: 1.0.0
model:
  name: model
  path: models/llama/model.gguf
  parts:
    - path: models/llama/config.json
code:
  - path: data/extra/x.bin
  - path: tools/run.sh
datasets:
  - path: data/train.csv
  - path: data/extra/y.csv
docs:
  - path: models/notes.md
`);
    });

    test("non-integer depth is a usage error", async () => {
      await expect(generateKitfile(tree({}), { depth: 1.5, logger: memoryLogger() })).rejects.toThrow(
        "Invalid depth 1.5: must be an integer",
      );
    });
  });

  test("a missing directory is reported", async () => {
    const missing = path.join(tmpRoot, "does-not-exist");
    await expect(generateKitfile(missing, { logger: memoryLogger() })).rejects.toThrow(
      `failed to read directory ${missing}: `,
    );
  });
});
