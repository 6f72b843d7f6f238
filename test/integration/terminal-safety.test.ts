/**
 * Terminal safety through the binary: control characters and escape sequences from a Kitfile or a
 * registry never reach stdout or stderr raw (table, log lines, errors), while the data formats
 * (`kit info` YAML, `--format json`, templates into a pipe) keep the exact values.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { parse as parseYaml } from "yaml";
import { project } from "../helpers/files.ts";
import { runKit, tempDir } from "../helpers/kit.ts";

/** Any byte a terminal could take as (the start of) a control sequence, CR and BEL included. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

const NAME = "evil\x1b[31mred\x07\rcr\x1b]0;title\x07";
const AUTHOR = "auth\x1b[2J\x1b[H";
const DESCRIPTION = "desc\x9b31m\x1bP+q\x1b\\";
const MODEL = "mod\x1b]8;;http://example.com\x1b\\link";

/** YAML double-quoted form of a string (the YAML reader turns `\e`, `\a`, `\r`, `\x9b` back). */
const yq = (s: string) => JSON.stringify(s).replace(/\\u001b/g, "\\e").replace(/\\u0007/g, "\\a").replace(/\u009b/g, "\\x9b");

function expectNoControl(r: { stdout: string; stderr: string }) {
  expect(r.stdout).not.toMatch(CONTROL);
  expect(r.stderr).not.toMatch(CONTROL);
}

describe("terminal safety", () => {
  const home = tempDir("kit-term-");
  const env = { KITOPS_HOME: home };
  beforeAll(async () => {
    const kitfile = `manifestVersion: 1.0.0\npackage:\n  name: ${yq(NAME)}\n  authors: [${yq(AUTHOR)}]\n  description: ${yq(DESCRIPTION)}\nmodel:\n  name: ${yq(MODEL)}\n  path: m.bin\n`;
    const ctx = project({ Kitfile: kitfile, "m.bin": "weights" });
    const r = await runKit(["pack", ctx, "-t", "esc:1"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("kit list: the table shows escapes as text", async () => {
    const r = await runKit(["list"], { env });
    expect(r.code).toBe(0);
    expectNoControl(r);
    expect(r.stdout).toContain("auth\\u001b[2J\\u001b[H");
    expect(r.stdout).toContain("evil\\u001b[31mred\\u0007\\u000dcr\\u001b]0;title\\u0007");
    // one header and one row: a CR or newline in a cell cannot break the table
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(2);
  });

  test("kit inspect: valid JSON with the exact values, no raw control byte", async () => {
    const r = await runKit(["inspect", "esc:1"], { env });
    expect(r.code).toBe(0);
    expectNoControl(r);
    const j = JSON.parse(r.stdout);
    expect(j.kitfile.package).toEqual({ name: NAME, authors: [AUTHOR], description: DESCRIPTION });
    expect(j.kitfile.model.name).toBe(MODEL);
  });

  test("kit info and kit list --format json keep the exact values", async () => {
    const info = await runKit(["info", "esc:1"], { env });
    expect(info.code).toBe(0);
    const k = parseYaml(info.stdout);
    expect(k.package).toEqual({ name: NAME, description: DESCRIPTION, authors: [AUTHOR] });
    expect(k.model.name).toBe(MODEL);
    const filtered = await runKit(["info", "esc:1", "--filter", ".model.name"], { env });
    expect(parseYaml(filtered.stdout)).toBe(MODEL);

    const json = await runKit(["list", "--format", "json"], { env });
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout);
    expect(rows[0].modelName).toBe(NAME);
    expect(rows[0].author).toBe(AUTHOR);
    // Go's encoding: C0 controls escaped, a C1 control written as it is
    expect(json.stdout).toContain(`"author": "auth\\u001b[2J\\u001b[H"`);

    // a template into a pipe is data too
    const tpl = await runKit(["list", "--format", "{{ .Author }}|{{ .ModelName }}"], { env });
    expect(tpl.stdout).toBe(`${AUTHOR}|${NAME}\n`);
  });

  test("errors naming hostile text (Kitfile paths, arguments) show no escape byte", async () => {
    const ctx = project({ Kitfile: `manifestVersion: 1.0.0\nmodel:\n  path: ${yq("gone\x1b[31m.bin")}\n` });
    const pack = await runKit(["pack", ctx, "-t", "x:1"], { env });
    expect(pack.code).toBe(1);
    expectNoControl(pack);
    expect(pack.stderr).toContain("gone\\u001b[31m.bin");

    const bad = await runKit(["inspect", "esc\x1b[2J:1"], { env });
    expect(bad.code).toBe(1);
    expectNoControl(bad);
    expect(bad.stderr).toContain("\\u001b[2J");

    const usage = await runKit(["list", "a", "b\x1b[2J"], { env });
    expect(usage.code).toBe(1);
    expectNoControl(usage);
  });

  describe("a registry's error bodies", () => {
    let server: Server;
    let port = 0;
    const BODY = "denied\x1b[2J\x1b]0;pwned\x07\roverwritten\x9b31m";
    beforeAll(async () => {
      // A raw HTTP server: every request gets a 400 with a hostile plain-text body; the token
      // endpoint a 400 with the same body.
      server = createServer((sock) => {
        sock.on("data", (d) => {
          const first = d.toString("latin1").split("\r\n")[0] ?? "";
          const body = Buffer.from(BODY, "utf8");
          const auth = first.includes(" /v2/ ") ? `WWW-Authenticate: Bearer realm="http://127.0.0.1:${port}/token",service="x"\r\n` : "";
          const status = auth ? "401 Unauthorized" : "400 Bad Request";
          sock.end(`HTTP/1.1 ${status}\r\n${auth}Content-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` + body.toString("latin1"), "latin1");
        });
        sock.on("error", () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    for (const args of [["inspect", "--remote"], ["info", "--remote"], ["pull"], ["list"]]) {
      test(`kit ${args.join(" ")}`, async () => {
        const ref = `127.0.0.1:${port}/hostile/repo${args[0] === "list" ? "" : ":1"}`;
        const r = await runKit([...args, ref, "--plain-http"], { env });
        expect(r.code).toBe(1);
        expectNoControl(r);
        // inspect and info resolve with HEAD, which has no body to quote
        if (args[0] === "pull" || args[0] === "list") expect(r.stderr).toContain("denied\\u001b[2J\\u001b]0;pwned\\u0007\\u000doverwritten\\u009b31m");
      });
    }
  });
});
