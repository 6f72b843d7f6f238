/** The Dockerfile, checked statically (no container engine runs here). */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dir, "../..");

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let cur = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (cur === "" && (line.trim() === "" || line.trimStart().startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      cur += line.slice(0, -1) + " ";
      continue;
    }
    logical.push((cur + line).trim());
    cur = "";
  }
  if (cur) throw new Error("Dockerfile ends inside a continued line");
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^([A-Za-z]+)\s+(.*)$/s.exec(l);
    if (!m) throw new Error(`not an instruction: ${l}`);
    const ins = { keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, " ").trim() };
    if (ins.keyword === "FROM") {
      const f = /^(?:--platform=\S+ )?(\S+)(?: AS (\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`bad FROM: ${ins.args}`);
      stages.push({ image: f[1]!, name: f[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== "ARG") throw new Error(`${ins.keyword} before the first FROM`);
      args.push(ins);
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
const stage = (name: string) => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe("Dockerfile", () => {
  test("stages: build, cosign, runtime, init, kserve, kit — kit last, so it is the default target", () => {
    expect(dockerfile.stages.map((s) => [s.name, s.image])).toEqual([
      ["build", "node:22-bookworm-slim"],
      ["cosign", "${COSIGN_IMAGE}"],
      ["runtime", "debian:12-slim"],
      ["init", "runtime"],
      ["kserve", "runtime"],
      ["kit", "runtime"],
    ]);
    expect(dockerfile.args.map((a) => a.args)).toEqual(["COSIGN_IMAGE=gcr.io/projectsigstore/cosign:v2.4.0"]);
  });

  test("build: npm ci from the lockfile (the pinned Bun), then the host build with the pinned Bun", () => {
    const b = stage("build");
    expect(all(b, "COPY")[0]).toBe("package.json package-lock.json .npmrc ./");
    expect(all(b, "RUN")[0]).toBe("npm ci --no-audit --no-fund");
    expect(all(b, "RUN")[1]).toContain("node_modules/.bin/bun scripts/build.ts");
    expect(all(b, "RUN")[1]).toContain("./dist/kit version");
    expect(all(b, "ARG")).toEqual(["KIT_BUILD_COMMIT=unknown", "SOURCE_DATE_EPOCH"]);
  });

  test("runtime: only the binary from the build, user 1001, HOME=/home/user", () => {
    const r = stage("runtime");
    const copies = all(r, "COPY");
    expect(copies).toEqual(["--from=build /src/dist/kit /usr/local/bin/kit", "--chmod=0755 build/init/entrypoint.sh /usr/local/bin/kit-init"]);
    expect(all(r, "RUN")).toEqual([
      "groupadd --gid 1001 user && useradd --uid 1001 --gid 1001 --home-dir /home/user --create-home --shell /bin/sh user",
    ]);
    expect(all(r, "USER")).toEqual(["1001"]);
    expect(all(r, "ENV")).toEqual(["HOME=/home/user"]);
    expect(all(r, "WORKDIR")).toEqual(["/home/user"]);
    // USER comes after everything that needs root
    const kinds = r.instructions.map((i) => i.keyword);
    expect(kinds.indexOf("USER")).toBeGreaterThan(kinds.lastIndexOf("RUN"));
    expect(kinds.indexOf("USER")).toBeGreaterThan(kinds.lastIndexOf("COPY"));
  });

  test("init: cosign from its image, the entrypoint script", () => {
    const i = stage("init");
    expect(all(i, "COPY")).toEqual(["--from=cosign /ko-app/cosign /usr/local/bin/cosign"]);
    expect(all(i, "ENTRYPOINT")).toEqual([`["/usr/local/bin/kit-init"]`]);
    expect(all(i, "USER")).toEqual([]); // inherits 1001
  });

  test("kserve: the storage initializer script as entrypoint, user 1001 inherited", () => {
    const k = stage("kserve");
    expect(all(k, "COPY")).toEqual(["--chmod=0755 build/kserve/entrypoint.sh /usr/local/bin/kit-kserve"]);
    expect(all(k, "ENTRYPOINT")).toEqual([`["/usr/local/bin/kit-kserve"]`]);
    expect(all(k, "USER")).toEqual([]);
  });

  test("kit: the CLI as entrypoint", () => {
    const k = stage("kit");
    expect(all(k, "ENTRYPOINT")).toEqual([`["/usr/local/bin/kit"]`]);
    expect(all(k, "CMD")).toEqual([`["--help"]`]);
    expect(JSON.parse(all(k, "ENTRYPOINT")[0]!)).toEqual(["/usr/local/bin/kit"]);
  });

  test("every file copied from the context exists and is not excluded by .dockerignore", () => {
    const ignored = readFileSync(path.join(repoRoot, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const sources: string[] = [];
    for (const s of dockerfile.stages) {
      for (const c of all(s, "COPY")) {
        const parts = c.split(" ").filter((p) => !p.startsWith("--"));
        if (c.includes("--from=")) continue;
        sources.push(...parts.slice(0, -1));
      }
    }
    expect(sources).toEqual(["package.json", "package-lock.json", ".npmrc", "tsconfig.json", "bunfig.toml", "scripts", "src", "build/init/entrypoint.sh", "build/kserve/entrypoint.sh"]);
    for (const src of sources) {
      expect(existsSync(path.join(repoRoot, src)), src).toBe(true);
      expect(ignored.filter((p) => src === p || src.startsWith(p + "/")), src).toEqual([]);
    }
    for (const p of ["node_modules", "dist", ".git"]) expect(ignored).toContain(p);
  });
});
