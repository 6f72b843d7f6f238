/**
 * The benchmark in --quick mode, so its code never rots: it must run to the end, print the
 * table with every row, and write it between the markers of a file while keeping the prose.
 * Timings are not checked (no timed assertions).
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { kitBinary, repoRoot, tempDir } from "../helpers/kit.ts";
import { hasDockerRegistry, hasSkopeo } from "../helpers/registry.ts";

const ROWS = [
  "pack one large file vs tar | tee | openssl",
  "pack one large file vs openssl alone",
  "pack 4 parts vs four tar | tee | openssl at once",
  "unpack the 4-part kit vs tar xf",
  "unpack small files vs tar xf",
  "pack small files",
  "re-pack unchanged project vs first pack",
  "kit version start-up",
  "kit --help start-up",
  "linux-x64 binary",
  "kit list, full store",
  "pack --compression gzip vs gzip -6",
  "pack --compression gzip-fastest vs gzip -1",
  "push vs skopeo copy",
  "pull vs skopeo copy",
  "re-push unchanged vs skopeo copy",
  "push vs a raw upload by curl",
  "pull through connections capped at 16 MiB/s vs skopeo copy",
  "import 64 MiB from a fake Hub vs curl",
  "import 64 MiB vs curl | tee | openssl twice",
  "push to oci-archive: vs tar cf",
  "pull from oci-archive: vs tar xf",
  "push to oci-archive: vs tar | tee | openssl",
  "pull from oci-archive: vs tar xf beside openssl",
];

const esc = (s: string) => s.replaceAll("|", "\\|");

test(
  "bun scripts/bench.ts --quick runs every row and writes the table between the markers",
  () => {
    const dir = tempDir();
    const doc = path.join(dir, "benchmarks.md");
    writeFileSync(doc, "# Benchmarks\n\nProse before.\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\nProse after.\n");
    const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts/bench.ts"), "--quick", "--kit", kitBinary, "--write", doc], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 300_000,
    });
    if (r.status !== 0) console.error(r.stderr);
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. Machine: \d+ CPUs/m);
    expect(out).toContain("Mode: quick, 1 run per row and side");
    // The write state is measured and printed first, and for every row that writes.
    expect(out).toMatch(/^Write rate into the page cache \(32 MiB with dd, 1 GiB\/s or more is the fast state\): (fast|slow) \(\d+(\.\d)? MiB\/s\) at start, (fast|slow) \(\d+(\.\d)? MiB\/s\) at the end/m);
    expect(out).toContain("| Row | Ours | Reference | Ratio | Goal | Peak RSS | Writes | Result |\n|---|---|---|---|---|---|---|---|\n");
    const lines = out.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Row |"));
    expect(lines.map((l) => l.slice(2, l.indexOf(" | ", 2)))).toEqual(ROWS.map(esc));
    for (const l of lines) {
      expect(l).not.toContain("error:");
      // Every row was measured, or (push/pull in a build or machine without them) says why not.
      expect(l).toMatch(/\| (pass|pass \(ratio not judged: writes were slow\)|\*\*miss\*\* \([^)]*\)|not available (yet|here): [^|]+) \|$/);
      if (/^\| (pack|unpack)/.test(l)) expect(l).toMatch(/\| (fast|slow) \(\d+(\.\d)? MiB\/s\)( → (fast|slow) \(\d+(\.\d)? MiB\/s\))? \|/);
    }
    // Where the registry and skopeo are installed (CI installs both), every row is measured.
    if (hasDockerRegistry() && hasSkopeo()) expect(lines.filter((l) => l.includes("not available yet"))).toEqual([]);
    const text = readFileSync(doc, "utf8");
    expect(text.startsWith("# Benchmarks\n\nProse before.\n\n<!-- bench:begin -->\nDate: ")).toBe(true);
    expect(text.endsWith("\n<!-- bench:end -->\n\nProse after.\n")).toBe(true);
    expect(text).not.toContain("old table");
    for (const name of ROWS) expect(text).toContain(`| ${esc(name)} |`);
  },
  { timeout: 300_000 },
);
