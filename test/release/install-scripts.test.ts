/**
 * The install scripts without running a release (test/integration/install.test.ts runs
 * install.sh against the real archives): install.sh parses in dash, bash and bash --posix;
 * install.ps1, which cannot run here (PowerShell is not packaged for Debian), is checked for its
 * structure: what it downloads and checks, in which order, and that its temporary directory is
 * removed in a `finally` around every step. Where `pwsh` is installed it is also parsed by
 * PowerShell itself and run (off Windows it must refuse and point to install.sh).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { RELEASE_TARGETS } from "../../scripts/build.ts";

const root = path.resolve(import.meta.dir, "../..");
const sh = readFileSync(path.join(root, "scripts", "install.sh"), "utf8");
const ps1 = readFileSync(path.join(root, "scripts", "install.ps1"), "utf8");
const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

/** The default base URL each script declares. */
const shDefault = /^KIT_RELEASES_URL="([^"]+)"$/m.exec(sh)?.[1];
const ps1Default = /^\$KitReleasesUrl = '([^']+)'$/m.exec(ps1)?.[1];

/**
 * PowerShell source with string contents and comments blanked out (quotes kept, same length and
 * positions), so brackets and keywords can be found by position. Handles '...' (with '' escapes), "..." (with `" escapes)
 * and # comments; the script uses no here-strings or block comments.
 */
function ps1Code(src: string): string {
  let out = "";
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === "#") {
      for (; i < src.length && src[i] !== "\n"; i++) out += " ";
      out += src[i] ?? "";
    } else if (c === "'" || c === '"') {
      out += c;
      for (i++; i < src.length; i++) {
        if (c === '"' && src[i] === "`") { i++; out += "  "; continue; }
        if (src[i] === c && src[i + 1] === c) { i++; out += "  "; continue; }
        if (src[i] === c) break;
        out += src[i] === "\n" ? "\n" : " ";
      }
      out += c;
    } else out += c;
  }
  return out;
}

/** The index of the bracket closing the one at `open`. */
function closing(code: string, open: number): number {
  const pairs: Record<string, string> = { "{": "}", "(": ")", "[": "]" };
  const stack: string[] = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i]!;
    if (pairs[c]) stack.push(pairs[c]!);
    else if (c === "}" || c === ")" || c === "]") {
      if (stack.pop() !== c) throw new Error(`unbalanced ${c} at ${i}`);
      if (stack.length === 0) return i;
    }
  }
  throw new Error(`unclosed bracket at ${open}`);
}

describe("install.sh and install.ps1 agree", () => {
  test("the same default base URL: the latest release's assets on the project's release page", () => {
    expect(shDefault).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+\/releases\/latest\/download$/);
    expect(ps1Default).toBe(shDefault!);
  });

  test("the same environment variables, default directory and messages", () => {
    for (const v of ["KIT_INSTALL_BASE_URL", "KIT_INSTALL_DIR"]) {
      expect(sh).toContain(`\${${v}:-`);
      expect(ps1).toContain(`$env:${v}`);
    }
    expect(sh).toContain("install_dir=${KIT_INSTALL_DIR:-${HOME:?HOME is not set; set KIT_INSTALL_DIR}/.local/bin}");
    expect(ps1).toContain("Join-Path $HOME '.local\\bin'");
    for (const m of [
      "checksum mismatch: $archive is not the file SHA256SUMS lists",
      "expected sha256 $expected",
      "got      sha256 $actual",
      "The download was damaged or the file on the server was replaced.",
      "SHA256SUMS at $base_url has no line for $archive",
      "Nothing was installed.",
      "KIT_INSTALL_BASE_URL must start with https://, http:// or file://",
      "Next: in your project's directory, describe it in a Kitfile:",
    ]) {
      expect(sh).toContain(m);
      expect(ps1).toContain(m.replace("$base_url", "$baseUrl"));
    }
  });

  test("each names only real release archives", () => {
    const real = RELEASE_TARGETS.map((t) => `kitops-${t.name}.${t.os === "linux" ? "tar.gz" : "zip"}`);
    const shNames = new Set([...sh.matchAll(/kitops-[a-z0-9$-]+\.(?:tar\.gz|zip)/g)].map((m) => m[0].replace("$os-$arch", "linux-x64")));
    expect([...shNames].every((n) => real.includes(n))).toBe(true);
    expect(sh).toContain('linux-x64 | linux-arm64) archive="kitops-$os-$arch.tar.gz"');
    expect(sh).toContain('darwin-arm64) archive="kitops-darwin-arm64.zip"');
    expect(new Set([...ps1.matchAll(/kitops-[a-z0-9-]+\.zip/g)].map((m) => m[0]))).toEqual(new Set(["kitops-windows-x64.zip"]));
    expect(real).toContain("kitops-windows-x64.zip");
  });
});

describe("install.sh", () => {
  test("is a POSIX sh script that dash, bash and bash --posix parse", () => {
    expect(sh.split("\n")[0]).toBe("#!/bin/sh");
    for (const [shell, ...args] of [["dash", "-n"], ["bash", "-n"], ["bash", "--posix", "-n"]] as const) {
      if (!have(shell)) continue;
      const r = spawnSync(shell, [...args, path.join(root, "scripts", "install.sh")], { encoding: "utf8" });
      expect({ shell, stderr: r.stderr, status: r.status }).toEqual({ shell, stderr: "", status: 0 });
    }
  });

  test("removes its temporary directory and a half-copied binary on every exit", () => {
    expect(sh).toMatch(/\ntrap cleanup EXIT\n/);
    for (const sig of ["INT", "TERM", "HUP"]) expect(sh).toMatch(new RegExp(`\\ntrap 'interrupted \\d+' ${sig}\\n`));
    // the archive is checked before anything is extracted, and everything before it is installed
    const order = ['"$actual" != "$expected"', 'tar -xzf "$tmp/$archive"', '"$tmp/x/kit" version', 'mv -f "$staged" "$install_dir/kit"'].map((s) => sh.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe("install.ps1 (structure; PowerShell cannot run here)", () => {
  const code = ps1Code(ps1);
  const body = (fn: string) => {
    const at = code.indexOf(`function ${fn}`);
    expect(at).toBeGreaterThanOrEqual(0);
    const open = code.indexOf("{", at);
    return { start: open, end: closing(code, open) };
  };

  test("brackets balance outside strings and comments; every function it calls is defined", () => {
    expect(code.length).toBe(ps1.length);
    let depth = 0;
    for (const c of code) {
      if (c === "{" || c === "(" || c === "[") depth++;
      if (c === "}" || c === ")" || c === "]") depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
    for (const fn of ["Stop-Install", "Get-ReleaseFile", "Install-Kit"]) {
      expect(code).toContain(`function ${fn}`);
      expect(code.split(fn).length).toBeGreaterThan(2);
    }
    // every Verb-Noun call is a built-in cmdlet or one of the script's functions
    const known = new Set(["Stop-Install", "Get-ReleaseFile", "Install-Kit", "Test-Path", "Copy-Item", "Invoke-WebRequest", "Join-Path", "New-Item", "Out-Null", "Write-Host", "Get-Content", "Get-FileHash", "Expand-Archive", "Unblock-File", "Out-String", "Move-Item", "Where-Object", "Remove-Item"]);
    const called = new Set([...code.matchAll(/\b([A-Z][a-z]+-[A-Z][A-Za-z]+)\b/g)].map((m) => m[1]!));
    expect([...called].filter((c) => !known.has(c))).toEqual([]);
  });

  test("downloads SHA256SUMS and the archive into a temp dir removed in a finally around every step", () => {
    const install = body("Install-Kit");
    const tryAt = code.indexOf("try {", code.indexOf("New-Item -ItemType Directory -Path $tmp"));
    const tryEnd = closing(code, code.indexOf("{", tryAt));
    expect(code.slice(tryEnd, tryEnd + 11)).toBe("} finally {");
    const fin = code.slice(tryEnd + 10, closing(code, tryEnd + 10) + 1);
    expect(fin).toContain("Remove-Item -LiteralPath $tmp -Recurse -Force");
    expect(fin).toContain("Remove-Item -LiteralPath $staged -Force");
    expect(tryAt).toBeGreaterThan(install.start);
    expect(tryEnd).toBeLessThan(install.end);
    // in the try, in this order: both downloads, the hash check, extraction, the trial run, the move into place
    const steps = [
      "Get-ReleaseFile \"$baseUrl/SHA256SUMS\"",
      "Get-ReleaseFile \"$baseUrl/$archive\"",
      "Get-FileHash -LiteralPath (Join-Path $tmp $archive) -Algorithm SHA256",
      "if ($actual -ne $expected)",
      "Expand-Archive",
      "& $exe version",
      "Move-Item -LiteralPath $staged -Destination (Join-Path $installDir 'kit.exe') -Force",
    ].map((s) => ps1.indexOf(s));
    expect(steps.every((i) => i > tryAt && i < tryEnd)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  });

  test("a failed step stops the install: Stop-Install throws, the top level ends with exit 1 when run as a file", () => {
    const stop = code.slice(body("Stop-Install").start, body("Stop-Install").end);
    expect(stop).toContain("throw [System.OperationCanceledException]");
    expect(ps1).toContain("$ErrorActionPreference = 'Stop'");
    expect(ps1).toMatch(/\ntry \{\n {2}Install-Kit\n\} catch \[System\.OperationCanceledException\] \{\n(?: {2}#[^\n]*\n)? {2}if \(\$MyInvocation\.MyCommand\.Path\) \{ exit 1 \}\n\}\n$/);
    // file:// is copied (PowerShell 7's Invoke-WebRequest does not read file:// URLs)
    const get = ps1.slice(ps1.indexOf("function Get-ReleaseFile"), ps1.indexOf("function Install-Kit"));
    expect(get).toContain("if ($uri.Scheme -eq 'file')");
    expect(get).toContain("Copy-Item -LiteralPath $uri.LocalPath -Destination $OutFile");
  });

  test.skipIf(!have("pwsh"))("PowerShell parses it without errors and, off Windows, it refuses and points to install.sh", () => {
    const file = path.join(root, "scripts", "install.ps1");
    const parse = spawnSync("pwsh", ["-NoProfile", "-Command", `$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('${file}', [ref]$null, [ref]$e); $e.Count`], { encoding: "utf8" });
    expect(parse.stdout.trim()).toBe("0");
    const r = spawnSync("pwsh", ["-NoProfile", "-File", file], { encoding: "utf8", env: { ...process.env, KIT_INSTALL_BASE_URL: "file:///nonexistent" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("kit install: this is not Windows: run install.sh instead");
  });
});
