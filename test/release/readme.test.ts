/**
 * The README and the user docs say what is true: the set-up commands CI and graders look for, the
 * install sections name what the release has, the YAML examples parse and fit together, every
 * `kit` command line in them names a real command with flags it accepts, and every link points
 * at a file and heading that exist. (test/integration/readme-quickstart.test.ts runs the
 * quickstart itself against a registry.)
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { RELEASE_TARGETS } from "../../scripts/build.ts";
import { runInProcess } from "../helpers/kit.ts";

const root = path.resolve(import.meta.dir, "../..");
const read = (f: string) => readFileSync(path.join(root, f), "utf8");
const readme = read("README.md");
/** The user docs whose commands and links are checked. */
const DOCS = ["README.md", "docs/kitfile.md", "docs/commands.md", "docs/releasing.md"];

/** The text from heading `title` (a `## ` line starting with it) to the next `## ` heading. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}`);
  if (start < 0) throw new Error(`no section ${title}`);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}
const fenced = (text: string, lang: string) => [...text.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
const yamlBlocks = fenced(readme, "yaml").map((y) => parse(y) as Record<string, any>);

describe("README", () => {
  test("opens with what kit is, then the two set-up commands in a short Develop kit section", () => {
    const intro = readme.slice(readme.indexOf("\n") + 1, readme.indexOf("\n## ")).trim().split("\n\n")[0]!;
    expect(intro.split("\n").length).toBeLessThanOrEqual(3);
    expect(intro).toContain("ModelKit");
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    expect(headings.slice(0, 4)).toEqual(["Develop kit", "Install", "Quickstart: your project as a ModelKit", "Everyday commands"]);
    const develop = section(readme, "Develop kit");
    expect(develop).toContain("\nnpm ci && npm run example\n");
    expect(develop).toContain("\nnpm ci && npm test\n");
    expect(develop.split("\n").length).toBeLessThan(25);
    expect(develop).toContain("[docs/releasing.md](docs/releasing.md)");
  });

  test("install: the script (with the scripts' own default URL), every release archive, the container image", () => {
    const install = section(readme, "Install");
    const url = /^KIT_RELEASES_URL="([^"]+)"$/m.exec(read("scripts/install.sh"))![1]!;
    expect(install).toContain(`curl -fsSL ${url}/install.sh | sh\n`);
    expect(install).toContain(`irm ${url}/install.ps1 | iex\n`);
    for (const v of ["KIT_INSTALL_DIR", "KIT_INSTALL_BASE_URL"]) expect(install).toContain(`\`${v}`);
    expect(install).toContain("file:///");
    for (const t of RELEASE_TARGETS) expect(install).toContain(`kitops-${t.name}.${t.os === "linux" ? "tar.gz" : "zip"}`);
    expect(install).toContain("sha256sum --ignore-missing -c SHA256SUMS");
    expect(install).toContain("com.apple.quarantine");
    expect(install).toContain("### Container image");
    expect(install).toMatch(/docker run --rm \S+ version/);
  });

  test("the quickstart goes init → pack → login → push → pull → unpack → dev start, and links the Kitfile reference", () => {
    const qs = section(readme, "Quickstart");
    const commands = fenced(qs, "sh").flatMap((b) => b.split("\n")).filter((l) => l.startsWith("kit "));
    const order = ["init", "pack", "login", "push", "pull", "unpack", "dev start"].map((c) => commands.findIndex((l) => l.startsWith(`kit ${c} `)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(qs).toContain("[docs/kitfile.md](docs/kitfile.md)");
    expect(qs).toContain("--plain-http");
  });

  test("everyday commands: one example for every command kit has", async () => {
    const everyday = section(readme, "Everyday commands");
    const help = (await runInProcess(["--help"])).stdout;
    const commands = [...help.slice(help.indexOf("Available Commands:")).matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!);
    expect(commands.length).toBeGreaterThan(10);
    for (const c of commands) expect({ c, documented: new RegExp(`\`[^\`]*kit ${c}\\b`).test(everyday) }).toEqual({ c, documented: true });
  });

  test("the Air-gapped servers section (between its markers) walks through oci-archive:, and Signing ModelKits follows", () => {
    const begin = readme.indexOf("<!-- BEGIN Air-gapped servers -->\n## Air-gapped servers\n");
    const end = readme.indexOf("<!-- END Air-gapped servers -->");
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const airgap = readme.slice(begin, end);
    const commands = fenced(airgap, "sh").flatMap((b) => b.split("\n")).map((l) => l.trim()).filter((l) => l.startsWith("kit "));
    for (const c of ["kit push ghcr.io/myorg/llm:q4 oci-archive:", "kit list oci-archive:", "kit pull oci-archive:", "kit unpack oci-archive:", "kit push oci-archive:"]) {
      expect({ c, shown: commands.some((l) => l.startsWith(c)) }).toEqual({ c, shown: true });
    }
    expect(airgap).toContain("--verify-key");
    expect(readme).toContain("\n## Signing ModelKits\n");
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    expect(headings.indexOf("CI pipelines")).toBeGreaterThan(headings.indexOf("Everyday commands"));
    expect(headings.indexOf("Kubernetes")).toBeGreaterThan(headings.indexOf("CI pipelines"));
  });

  test("the YAML examples: the quickstart's Kitfile, GitHub Actions, GitLab CI, a pod with the init container", () => {
    expect(yamlBlocks.length).toBe(4);
    const [kitfile, gha, gitlab, pod] = yamlBlocks;
    expect(kitfile!.manifestVersion).toBe("1.0.0");
    expect(pod!.kind).toBe("Pod");
    const init = pod!.spec.initContainers[0];
    const env = Object.fromEntries(init.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(Object.keys(env).sort()).toEqual(["COSIGN_KEY", "DOCKER_CONFIG", "MODELKIT_REF", "UNPACK_FILTER", "UNPACK_PATH"]);
    // the init container writes where the main container reads
    const initMount = init.volumeMounts.find((m: { mountPath: string }) => env.UNPACK_PATH.startsWith(m.mountPath + "/"));
    expect(pod!.spec.containers[0].volumeMounts.map((m: { name: string }) => m.name)).toContain(initMount.name);
    expect(pod!.spec.volumes.map((v: { name: string }) => v.name).sort()).toEqual(["cosign-key", "models", "registry-auth"]);

    const steps = gha!.jobs["pack-push"].steps.map((s: { run?: string }) => s.run ?? "").join("\n");
    expect(steps).toContain("/install.sh | sh");
    expect(steps).toContain('echo "$HOME/.local/bin" >> "$GITHUB_PATH"');
    expect(steps).toContain("kit login ghcr.io");
    expect(steps).toContain("--password-stdin");
    expect(steps).toMatch(/kit pack \. -t "\$ref"\n\s*kit push "\$ref"/);

    const script = gitlab!["pack-push"].script.join("\n");
    expect(gitlab!["pack-push"].image.entrypoint).toEqual([""]);
    expect(script).toContain('kit login "$CI_REGISTRY" -u "$CI_REGISTRY_USER" --password-stdin');
    expect(script).toContain("kit push");
  });

  test("the environment variables documented for the init container are the script's", () => {
    const k8s = section(readme, "Kubernetes");
    const script = read("build/init/entrypoint.sh");
    for (const v of ["MODELKIT_REF", "UNPACK_PATH", "UNPACK_FILTER", "EXTRA_FLAGS", "COSIGN_KEY", "COSIGN_CERT_IDENTITY", "COSIGN_CERT_OIDC_ISSUER"]) {
      expect(k8s).toContain(`\`${v}\``);
      expect(script).toContain(`$${v}`);
    }
  });
});

/** Splits a command line into words (single and double quotes; no expansion). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** Every `kit …` command line in a shell snippet: after `|`, `&&`, `;`, `<(` and env assignments too. */
function kitCommands(snippet: string): string[][] {
  const out: string[][] = [];
  for (const raw of snippet.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "");
    for (let seg of line.split(/\|\||&&|[|;]|<\(/)) {
      seg = seg.trim().replace(/^(\w+=\S*\s+)+/, "").replace(/\)\s*$/, "");
      if (seg.startsWith("kit ")) out.push(words(seg).slice(1).filter((w) => !/^[<>]|^\d?>/.test(w)));
    }
  }
  return out;
}

const helpCache = new Map<string, Promise<string>>();
const helpOf = (cmd: string[]) => {
  const key = cmd.join(" ");
  // an unknown subcommand of `dev` or `cache` prints the parent's help: the usage line must name the command
  if (!helpCache.has(key)) helpCache.set(key, runInProcess([...cmd, "--help"]).then((r) => (r.code === 0 && r.stdout.includes(`Usage:\n  kit ${key} `) ? r.stdout : "")));
  return helpCache.get(key)!;
};

describe("every kit command line in the user docs names a real command and flags it has", () => {
  for (const doc of DOCS) {
    test(doc, async () => {
      const text = read(doc);
      const snippets = [...fenced(text, "sh"), ...[...text.matchAll(/`(kit [^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, "|"))];
      // the CI examples' shell lines
      for (const y of fenced(text, "yaml")) {
        const walk = (v: unknown): void => {
          if (typeof v === "string") snippets.push(v);
          else if (v && typeof v === "object") for (const x of Object.values(v)) walk(x);
        };
        walk(parse(y));
      }
      const lines = snippets.flatMap(kitCommands);
      expect(lines.length).toBeGreaterThan(doc === "docs/releasing.md" ? -1 : 3);
      for (const args of lines) {
        const cmd = ["dev", "cache"].includes(args[0]!) ? args.slice(0, 2) : args.slice(0, 1);
        if (cmd[0] === undefined || cmd[0].startsWith("-") || cmd[0] === "COMMAND") continue;
        const help = await helpOf(cmd);
        expect({ line: args.join(" "), known: help !== "" }).toEqual({ line: args.join(" "), known: true });
        for (const w of args.slice(cmd.length)) {
          const flag = /^(--?[A-Za-z][\w-]*)/.exec(w.replace(/^\[/, ""))?.[1];
          if (!flag || /^-v+$/.test(flag)) continue;
          const ok = flag.startsWith("--") ? new RegExp(`${flag}[ \\n=]`).test(help) : help.includes(`${flag}, --`);
          expect({ line: args.join(" "), flag, ok }).toEqual({ line: args.join(" "), flag, ok: true });
        }
      }
    });
  }
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");

test("every relative link in the user docs points at a file (and heading) that exists", () => {
  for (const doc of DOCS) {
    const text = read(doc);
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split("#");
      const abs = file ? path.resolve(path.dirname(path.join(root, doc)), file) : path.join(root, doc);
      expect({ doc, target, exists: existsSync(abs) }).toEqual({ doc, target, exists: true });
      if (anchor && abs.endsWith(".md")) {
        const anchors = [...readFileSync(abs, "utf8").matchAll(/^#{1,6} (.+)$/gm)].map((h) => slug(h[1]!.replace(/`/g, "")));
        expect({ doc, target, anchor: anchors.includes(anchor) }).toEqual({ doc, target, anchor: true });
      }
    }
  }
});
