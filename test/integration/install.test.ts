/**
 * scripts/install.sh against the real release: the archives of the one release build of the test
 * run (test/helpers/release-build.ts), served by a local HTTP server (or read through file://),
 * installed under dash and under bash. A tampered archive, a SHA256SUMS without the archive, a
 * missing file and Ctrl-C during the download are all refused with nothing left behind: no kit in
 * the install directory, no temporary files (each run gets its own empty TMPDIR).
 *
 * Other platforms are chosen with a `uname` stand-in on PATH: the script must ask for that
 * platform's archive; those binaries cannot run here, which the script reports, installing
 * nothing.
 */
import { beforeAll, describe, expect, test, afterAll } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { sha256File } from "../../scripts/release.ts";
import { repoRoot, runKit, tempDir } from "../helpers/kit.ts";
import { RELEASE_BUILD_TIMEOUT_MS, releaseArchives } from "../helpers/release-build.ts";
import { readTarGz } from "../release/archives.ts";

const SCRIPT = path.join(repoRoot, "scripts", "install.sh");
const pkgVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
const SHELLS = ["dash", "bash"].filter((s) => spawnSync("sh", ["-c", `command -v ${s}`]).status === 0);
const hostIsLinuxX64 = process.platform === "linux" && process.arch === "x64";

/** What the server does with a file: serve it, flip one byte in it, or send half and then hang. */
type Fault = { kind: "tamper" } | { kind: "stall" } | { kind: "replace"; body: string };

interface FileServer {
  url: string;
  /** `GET /name` lines, in order. */
  requests: string[];
  /** How far the stalled download got (bytes sent). */
  stalledBytes: number;
  faults: Map<string, Fault>;
  close(): Promise<void>;
}

/** A static file server for `dir` on 127.0.0.1 (flat: file names only). */
async function serveDir(dir: string): Promise<FileServer> {
  const stalled = new Set<http.ServerResponse>();
  const s: FileServer = {
    url: "",
    requests: [],
    stalledBytes: 0,
    faults: new Map(),
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1));
    s.requests.push(`${req.method} /${name}`);
    const fault = s.faults.get(name);
    if (fault?.kind === "replace") return void res.writeHead(200, { "content-type": "text/plain" }).end(fault.body);
    const file = path.join(dir, name);
    if (name.includes("/") || !existsSync(file)) return void res.writeHead(404).end("not found\n");
    const size = statSync(file).size;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
    if (fault?.kind === "stall") {
      // half the file, then nothing: the client waits until it is interrupted
      stalled.add(res);
      const half = createReadStream(file, { end: Math.floor(size / 2) - 1 });
      half.on("data", (c) => {
        s.stalledBytes += c.length;
        res.write(c);
      });
      return;
    }
    let offset = 0;
    const stream = createReadStream(file);
    stream.on("data", (c) => {
      const b = c as Buffer;
      // one byte in the middle of the archive changes: same size, different SHA-256
      const mid = Math.floor(size / 2);
      if (fault?.kind === "tamper" && mid >= offset && mid < offset + b.length) b[mid - offset] = b[mid - offset]! ^ 0xff;
      offset += b.length;
      if (!res.write(b)) {
        stream.pause();
        res.once("drain", () => stream.resume());
      }
    });
    stream.on("end", () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}

interface Run {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The install directory. */
  dir: string;
  /** The run's own TMPDIR: empty afterwards, whatever happened. */
  tmp: string;
}

interface RunOptions {
  shell: string;
  baseUrl: string;
  /** Install directory; default a fresh one that does not exist yet. */
  dir?: string;
  /** Extra PATH entries before the system's. */
  pathPrefix?: string[];
  /** `uname -s` and `uname -m` answers (a stand-in on PATH). */
  uname?: { s: string; m: string };
  /** Called once the script is running; it may signal the process group. */
  during?: (pid: number) => Promise<void>;
}

async function install(o: RunOptions): Promise<Run> {
  const root = tempDir("kit-install-");
  const tmp = path.join(root, "tmp");
  mkdirSync(tmp);
  const dir = o.dir ?? path.join(root, "home", ".local", "bin");
  const prefix = [...(o.pathPrefix ?? [])];
  if (o.uname) {
    const shim = path.join(root, "uname-shim");
    mkdirSync(shim);
    writeFileSync(path.join(shim, "uname"), `#!/bin/sh\ncase "$1" in -s) echo ${o.uname.s} ;; -m) echo ${o.uname.m} ;; *) exit 2 ;; esac\n`, { mode: 0o755 });
    prefix.unshift(shim);
  }
  const env = {
    PATH: [...prefix, "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: path.join(root, "home"),
    SHELL: "/bin/bash",
    TMPDIR: tmp,
    KIT_INSTALL_BASE_URL: o.baseUrl,
    ...(o.dir === undefined ? {} : { KIT_INSTALL_DIR: o.dir }),
  };
  // the default install directory is ~/.local/bin: only set KIT_INSTALL_DIR when a test names one
  const child = spawn(o.shell, [SCRIPT], { env, cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d) => out.push(d));
  child.stderr.on("data", (d) => err.push(d));
  const done = new Promise<{ code: number; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code: code ?? -1, signal })));
  if (o.during) await o.during(child.pid!);
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 120_000);
  const r = await done;
  clearTimeout(timer);
  return { ...r, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), dir, tmp };
}

/** Nothing installed, nothing left in the run's TMPDIR. */
function expectNothingLeft(r: Run, before: string[] = []) {
  expect(existsSync(r.dir) ? readdirSync(r.dir) : []).toEqual(before);
  expect(readdirSync(r.tmp)).toEqual([]);
}

let release = "";
let server: FileServer;
/** The linux-x64 binary as it is inside its archive. */
let kitSha = "";

beforeAll(async () => {
  release = (await releaseArchives()).release;
  server = await serveDir(release);
  const member = await readTarGz(path.join(release, "kitops-linux-x64.tar.gz"));
  kitSha = member.get("kit")!.sha256;
}, RELEASE_BUILD_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await server?.close();
});

describe.skipIf(!hostIsLinuxX64)("install.sh from a local HTTP server", () => {
  test("the shells are there: dash and bash", () => {
    expect(SHELLS).toEqual(["dash", "bash"]);
  });

  for (const shell of SHELLS) {
    test(`${shell}: installs a working kit into ~/.local/bin, prints the next command and a PATH hint`, async () => {
      server.requests.length = 0;
      const r = await install({ shell, baseUrl: server.url });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.dir).toBe(path.join(path.dirname(r.tmp), "home", ".local", "bin"));
      expect(server.requests).toEqual(["GET /SHA256SUMS", "GET /kitops-linux-x64.tar.gz"]);
      expect(r.stdout).toBe(
        [
          `Downloading kitops-linux-x64.tar.gz from ${server.url}`,
          `Installed kit ${pkgVersion} to ${r.dir}/kit`,
          "",
          `${r.dir} is not on your PATH. Add it:`,
          `  echo 'export PATH="${r.dir}:$PATH"' >> ~/.bashrc && export PATH="${r.dir}:$PATH"`,
          "",
          "Next: in your project's directory, describe it in a Kitfile:",
          "  kit init .",
          "",
        ].join("\n"),
      );
      expectNothingLeft(r, ["kit"]);
      const kit = path.join(r.dir, "kit");
      expect(statSync(kit).mode & 0o777).toBe(0o755);
      expect(await sha256File(kit)).toBe(kitSha);
      const v = await runKit(["version"], { bin: kit, env: { KITOPS_HOME: path.join(r.tmp, "..", "kithome") } });
      expect(v.code).toBe(0);
      expect(v.stdout).toStartWith(`Version: ${pkgVersion}\n`);
    });
  }

  test("KIT_INSTALL_DIR on PATH: no PATH hint; an existing kit there is replaced", async () => {
    const dir = path.join(tempDir("kit-install-dir-"), "bin");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "kit"), "#!/bin/sh\necho old\n", { mode: 0o755 });
    const r = await install({ shell: "bash", baseUrl: `${server.url}/`, dir, pathPrefix: [dir] });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Downloading kitops-linux-x64.tar.gz from ${server.url}\nInstalled kit ${pkgVersion} to ${dir}/kit\n\nNext: in your project's directory, describe it in a Kitfile:\n  kit init .\n`);
    expectNothingLeft(r, ["kit"]);
    expect(await sha256File(path.join(dir, "kit"))).toBe(kitSha);
  });

  test("a kit earlier on PATH is pointed out", async () => {
    const other = path.join(tempDir("kit-install-other-"), "bin");
    mkdirSync(other);
    writeFileSync(path.join(other, "kit"), "#!/bin/sh\necho old\n", { mode: 0o755 });
    const dir = path.join(tempDir("kit-install-dir-"), "bin");
    const r = await install({ shell: "dash", baseUrl: server.url, dir, pathPrefix: [other, dir] });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`\nNote: ${other}/kit comes first on your PATH; run ${dir}/kit, or remove the other one.\n`);
  });

  for (const shell of SHELLS) {
    test(`${shell}: a tampered archive is refused; nothing is installed, the old kit stays, no temp files`, async () => {
      const dir = path.join(tempDir("kit-install-dir-"), "bin");
      mkdirSync(dir);
      writeFileSync(path.join(dir, "kit"), "#!/bin/sh\necho old\n", { mode: 0o755 });
      server.faults.set("kitops-linux-x64.tar.gz", { kind: "tamper" });
      try {
        const r = await install({ shell, baseUrl: server.url, dir });
        expect(r.code).toBe(1);
        const sums = readFileSync(path.join(release, "SHA256SUMS"), "utf8");
        const expected = /^([0-9a-f]{64}) {2}kitops-linux-x64\.tar\.gz$/m.exec(sums)![1]!;
        const lines = r.stderr.split("\n");
        expect(lines[0]).toBe("kit install: checksum mismatch: kitops-linux-x64.tar.gz is not the file SHA256SUMS lists");
        expect(lines[1]).toBe(`  expected sha256 ${expected}`);
        expect(lines[2]).toMatch(/^ {2}got {6}sha256 [0-9a-f]{64}$/);
        expect(lines[2]).not.toContain(expected);
        expect(lines.slice(3)).toEqual(["  The download was damaged or the file on the server was replaced.", "Nothing was installed.", ""]);
        expect(r.stdout).not.toContain("Installed");
        expectNothingLeft(r, ["kit"]);
        expect(readFileSync(path.join(dir, "kit"), "utf8")).toBe("#!/bin/sh\necho old\n");
      } finally {
        server.faults.clear();
      }
    });
  }

  test("a SHA256SUMS without the archive's line is refused", async () => {
    server.faults.set("SHA256SUMS", { kind: "replace", body: `${"0".repeat(64)}  kitops-linux-arm64.tar.gz\n` });
    try {
      const r = await install({ shell: "dash", baseUrl: server.url });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`kit install: SHA256SUMS at ${server.url} has no line for kitops-linux-x64.tar.gz\nNothing was installed.\n`);
      expectNothingLeft(r);
    } finally {
      server.faults.clear();
    }
  });

  test("a base URL without the release (404) is refused", async () => {
    const r = await install({ shell: "dash", baseUrl: `${server.url}/v9.9.9` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("The requested URL returned error: 404");
    expect(r.stderr).toEndWith(`kit install: could not download ${server.url}/v9.9.9/SHA256SUMS\nNothing was installed.\n`);
    expectNothingLeft(r);
  });

  for (const shell of SHELLS) {
    test(`${shell}: Ctrl-C during the download: exit 130, nothing installed, no temp files`, async () => {
      server.faults.set("kitops-linux-x64.tar.gz", { kind: "stall" });
      server.stalledBytes = 0;
      try {
        const r = await install({
          shell,
          baseUrl: server.url,
          during: async (pid) => {
            // wait until half the archive is on its way, then interrupt the whole process group, as a terminal does
            for (let i = 0; i < 600 && server.stalledBytes < 1 << 20; i++) await Bun.sleep(50);
            expect(server.stalledBytes).toBeGreaterThanOrEqual(1 << 20);
            await Bun.sleep(200);
            process.kill(-pid, "SIGINT");
          },
        });
        expect(r.code).toBe(130);
        expect(r.stderr).toEndWith("\nkit install: interrupted. Nothing was installed.\n");
        expectNothingLeft(r);
      } finally {
        server.faults.clear();
      }
    });
  }

  test("file:// base URL (a directory on a file server or a mounted medium)", async () => {
    server.requests.length = 0;
    const r = await install({ shell: "dash", baseUrl: `file://${release}` });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`Downloading kitops-linux-x64.tar.gz from file://${release}\nInstalled kit ${pkgVersion} to ${r.dir}/kit\n`);
    expect(server.requests).toEqual([]);
    expectNothingLeft(r, ["kit"]);
    expect(await sha256File(path.join(r.dir, "kit"))).toBe(kitSha);
  });

  test("file:// to a directory without the release is refused", async () => {
    const empty = tempDir("kit-install-empty-");
    const r = await install({ shell: "bash", baseUrl: `file://${empty}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`kit install: ${empty}/SHA256SUMS: no such file\nkit install: could not download file://${empty}/SHA256SUMS\nNothing was installed.\n`);
    expectNothingLeft(r);
  });

  test("a base URL of another scheme is refused", async () => {
    const r = await install({ shell: "dash", baseUrl: "ftp://example.invalid/kit" });
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("kit install: KIT_INSTALL_BASE_URL must start with https://, http:// or file:// (got ftp://example.invalid/kit)\n");
    expectNothingLeft(r);
  });
});

describe.skipIf(!hostIsLinuxX64)("install.sh picks the platform's archive", () => {
  const binfmtArm64 = existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64");

  test.skipIf(binfmtArm64)("Linux arm64: kitops-linux-arm64.tar.gz, checked; it cannot run here, so nothing is installed", async () => {
    server.requests.length = 0;
    const r = await install({ shell: "dash", baseUrl: server.url, uname: { s: "Linux", m: "aarch64" } });
    expect(server.requests).toEqual(["GET /SHA256SUMS", "GET /kitops-linux-arm64.tar.gz"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("kit install: kit does not run on this machine (linux-arm64):\n");
    expect(r.stderr).toContain("Exec format error");
    expect(r.stderr).toEndWith("  kit needs glibc 2.17 or newer (Debian, Ubuntu, Fedora, RHEL; not Alpine's musl).\nNothing was installed.\n");
    expectNothingLeft(r);
  });

  test("macOS Apple silicon: kitops-darwin-arm64.zip, checked and unzipped; a Mach-O binary cannot run here", async () => {
    server.requests.length = 0;
    const r = await install({ shell: "bash", baseUrl: server.url, uname: { s: "Darwin", m: "arm64" } });
    expect(server.requests).toEqual(["GET /SHA256SUMS", "GET /kitops-darwin-arm64.zip"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("kit install: kit does not run on this machine (darwin-arm64):\n");
    expect(r.stderr).not.toContain("glibc");
    expectNothingLeft(r);
  });

  test("platforms without a release are named, and nothing is downloaded", async () => {
    server.requests.length = 0;
    const cases: Array<[{ s: string; m: string }, string]> = [
      [{ s: "FreeBSD", m: "amd64" }, "kit install: there is no kit release for FreeBSD\n"],
      [{ s: "Darwin", m: "x86_64" }, "kit install: there is no kit release for Intel Macs (macOS on x86-64)\n"],
      [{ s: "Linux", m: "riscv64" }, "kit install: there is no kit release for linux on riscv64\n"],
      [{ s: "MINGW64_NT-10.0-19045", m: "x86_64" }, "kit install: this is Windows: run install.ps1 in PowerShell instead\n"],
    ];
    for (const [uname, first] of cases) {
      const r = await install({ shell: "dash", baseUrl: server.url, uname });
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith(first);
      expect(r.stderr).toEndWith("Nothing was installed.\n");
      expectNothingLeft(r);
    }
    expect(server.requests).toEqual([]);
  });
});
