import { describe, expect, test } from "bun:test";
import { extension, fileType, type FileType } from "../../src/init/classify.ts";

describe("fileType", () => {
  const cases: Array<[string, FileType]> = [
    // prompts come first, whatever the suffix
    ["system.prompt", "prompt"],
    ["chain.prompt.md", "prompt"],
    ["my.prompt.yaml", "prompt"],
    ["instruction.prompt.txt", "prompt"],
    ["prompts/user.prompt", "prompt"],
    ["AGENTS.md", "prompt"],
    ["agents.md", "prompt"],
    ["SKILL.md", "prompt"],
    ["Claude.md", "prompt"],
    ["docs/AGENTS.md", "prompt"],
    ["x.PROMPT", "prompt"],
    ["prompt.txt", "metadata"],
    ["my_prompt.md", "docs"],
    ["prompter.py", "unknown"],
    // models
    ["model.gguf", "model"],
    ["a/b/model.safetensors", "model"],
    ["w.pt", "model"],
    ["w.pt2", "model"],
    ["net.onnx", "model"],
    ["m.llamafile", "model"],
    ["pytorch_model.bin", "model"],
    ["pytorch_model-00001-of-00002.bin", "model"],
    ["sub/my_pytorch_model_x.bin", "model"],
    ["training_args.bin", "unknown"],
    ["model.bin", "unknown"],
    ["MODEL.GGUF", "unknown"], // suffixes are case-sensitive
    // metadata, docs, datasets, MCP bundles
    ["config.json", "metadata"],
    ["params.yaml", "metadata"],
    ["notes.txt", "metadata"],
    ["a.xml", "metadata"],
    ["README.md", "docs"],
    ["guide.adoc", "docs"],
    ["index.html", "docs"],
    ["paper.pdf", "docs"],
    ["data.csv", "dataset"],
    ["data.parquet", "dataset"],
    ["archive.tar", "dataset"],
    ["bundle.zip", "dataset"],
    ["archive.tar.gz", "unknown"],
    ["server.mcpb", "mcp"],
    ["server.MCPB", "unknown"],
    ["script.sh", "unknown"],
    ["Makefile", "unknown"],
  ];
  for (const [name, want] of cases) test(`${name} → ${want}`, () => expect(fileType(name)).toBe(want));
});

test("extension follows Go filepath.Ext", () => {
  expect(extension("model.gguf")).toBe(".gguf");
  expect(extension("archive.tar.gz")).toBe(".gz");
  expect(extension("Makefile")).toBe("");
  expect(extension("trailing.")).toBe(".");
});
