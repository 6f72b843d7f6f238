/**
 * The main job on the bundled example (README): builds dist/kit, then packs examples/sentiment
 * into a ModelKit, lists and inspects it, unpacks it elsewhere and checks every file came back.
 * Uses a throw-away KITOPS_HOME under .tmp/ so your own storage is untouched.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dir, "..");
const kit = path.join(root, "dist", process.platform === "win32" ? "kit.exe" : "kit");
const work = path.join(root, ".tmp", "example");
const home = path.join(work, "kitops-home");
const out = path.join(work, "unpacked");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

function step(args: string[]) {
  console.log(`\n$ kit ${args.join(" ")}`);
  const r = spawnSync(kit, args, { cwd: root, stdio: "inherit", env: { ...process.env, KITOPS_HOME: home } });
  if (r.status !== 0) {
    console.error(`kit ${args[0]} failed with exit code ${r.status}`);
    process.exit(1);
  }
}

if (!process.argv.includes("--no-build")) {
  const build = spawnSync(process.execPath, [path.join(root, "scripts", "build.ts")], { stdio: "inherit" });
  if (build.status !== 0) process.exit(1);
}

step(["version"]);
step(["pack", "examples/sentiment", "-t", "example/sentiment:v1"]);
step(["list"]);
step(["info", "example/sentiment:v1"]);
step(["unpack", "example/sentiment:v1", "-d", out]);

const files = (dir: string, rel = ""): string[] =>
  readdirSync(path.join(dir, rel)).flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n;
    return statSync(path.join(dir, r)).isDirectory() ? files(dir, r) : [r];
  });
const src = path.join(root, "examples", "sentiment");
const expected = files(src).filter((f) => f !== "Kitfile" && f !== ".kitignore" && !f.includes("__pycache__"));
for (const f of expected) {
  if (!readFileSync(path.join(src, f)).equals(readFileSync(path.join(out, f)))) {
    console.error(`unpacked ${f} differs from the original`);
    process.exit(1);
  }
}
console.log(`\nRound trip OK: ${expected.length} files packed into a ModelKit and unpacked identically into ${path.relative(root, out)}`);
