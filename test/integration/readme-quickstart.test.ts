/**
 * The README's quickstart, run as written with the compiled binary: its `kit` command lines are
 * taken from the README, `registry.example.com` becomes a local docker-registry with htpasswd
 * auth (so `--plain-http` is added, as the quickstart says for a local registry, and `login`
 * reads the password from standard input instead of a terminal), on a project like the one it
 * describes (a GGUF model, code, data, a README, a prompt). The Kitfile that `kit init` writes
 * must be the one the README shows; steps 5 to 7 run with a second kit home ("another machine").
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, repoRoot, runKit, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { writeTinyGguf } from "../helpers/tiny-gguf.ts";

const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
const quickstart = readme.slice(readme.indexOf("\n## Quickstart"), readme.indexOf("\n## ", readme.indexOf("\n## Quickstart") + 1));
const blocks = (lang: string) => [...quickstart.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
/** The quickstart's `kit` lines, in order, as words (quotes removed). */
const commands = blocks("sh")
  .flatMap((b) => b.split("\n"))
  .filter((l) => l.startsWith("kit "))
  .map((l) => [...l.replace(/\s+#.*$/, "").matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1));

const ready = hasDockerRegistry() && existsSync(kitBinary);
const NETWORK = new Set(["login", "push", "pull", "unpack", "dev start"]);

let registry: TestRegistry;

beforeAll(async () => {
  if (ready) registry = await startRegistry("htpasswd");
});
afterAll(async () => {
  await registry?.stop();
});

describe.if(ready)("the README quickstart, step by step", () => {
  test("init → pack → list → login → push → pull → unpack → dev start → dev stop", async () => {
    expect(commands.map((c) => (c[0] === "dev" ? `dev ${c[1]}` : c[0]))).toEqual(["init", "pack", "list", "login", "push", "pull", "unpack", "unpack", "dev start", "dev stop"]);
    const root = tempDir("kit-quickstart-");
    const project = path.join(root, "my-llm");
    mkdirSync(path.join(project, "src"), { recursive: true });
    mkdirSync(path.join(project, "data"));
    writeTinyGguf(path.join(project, "qwen-tiny-q4.gguf"));
    writeFileSync(path.join(project, "src", "serve.py"), "print('serving')\n");
    writeFileSync(path.join(project, "data", "eval.csv"), "prompt,answer\nhi,hello\n");
    writeFileSync(path.join(project, "README.md"), "# My LLM\n");
    writeFileSync(path.join(project, "system.prompt.md"), "You are a helpful assistant.\n");

    let home = path.join(root, "home");
    const other = path.join(root, "other-machine");
    mkdirSync(other);
    let cwd = project;
    let devUrl = "";
    for (const words of commands) {
      const name = words[0] === "dev" ? `dev ${words[1]}` : words[0]!;
      let args = words.map((w) => w.replace("registry.example.com", registry.host));
      let stdin: string | undefined;
      if (NETWORK.has(name)) args.push("--plain-http");
      if (name === "login") {
        args = [...args, "-u", registry.username, "--password-stdin"];
        stdin = registry.password;
      }
      if (name === "pull") {
        // another machine: a new kit home with the same credential, another directory
        const next = path.join(root, "home2");
        mkdirSync(next);
        copyFileSync(path.join(home, "credentials.json"), path.join(next, "credentials.json"));
        home = next;
        cwd = other;
      }
      const r = await runKit(args, { cwd, env: { KITOPS_HOME: home, DOCKER_CONFIG: path.join(root, "docker") }, stdin });
      expect({ args: args.join(" "), code: r.code, stderr: r.stderr }).toEqual({ args: args.join(" "), code: 0, stderr: expect.not.stringContaining("ERROR") });
      switch (name) {
        case "init": {
          // the Kitfile the README shows
          const shown = blocks("yaml")[0]!;
          expect(readFileSync(path.join(project, "Kitfile"), "utf8")).toBe(shown);
          break;
        }
        case "pack":
          expect(r.stdout).toMatch(/\nModel saved: sha256:[0-9a-f]{64}\n$/);
          break;
        case "list":
          expect(r.stdout).toContain(`${registry.host}/myorg/my-llm   v1    Ada`);
          break;
        case "login":
          expect(r.stdout).toBe("Log in successful\n");
          break;
        case "push":
          expect(r.stdout).toMatch(/\nPushed sha256:[0-9a-f]{64}\n$/);
          break;
        case "pull":
          expect(r.stdout).toMatch(/\nPulled sha256:[0-9a-f]{64}\n$/);
          break;
        case "unpack": {
          const dir = path.join(cwd, args[args.indexOf("-d") + 1]!);
          const files = readdirSync(dir, { recursive: true }).map(String).sort();
          if (args.includes("--filter")) expect(files).toEqual(["qwen-tiny-q4.gguf"]);
          else expect(files).toEqual(["Kitfile", "README.md", "data", "data/eval.csv", "qwen-tiny-q4.gguf", "src", "src/serve.py", "system.prompt.md"]);
          break;
        }
        case "dev start": {
          devUrl = /Development server started at (\S+)/.exec(r.stdout)![1]!;
          const models = (await (await fetch(`${devUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
          expect(models.data.map((m) => m.id)).toEqual(["qwen-tiny-q4"]);
          expect((await fetch(devUrl)).headers.get("content-type")).toContain("text/html");
          break;
        }
        case "dev stop":
          expect(r.stdout).toContain("Development server stopped");
          await expect(fetch(`${devUrl}/v1/models`)).rejects.toThrow();
          break;
      }
    }
  });
});
