/**
 * The remote forms of list and remove against the in-process fake registry (served on
 * 127.0.0.1), for what a real distribution 2.8 cannot show: `Link` pagination of tags/list, tag
 * deletion (untag), a registry refusing deletes (405), a tag vanishing mid-listing, a damaged kit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { descriptorFromBytes } from "../../src/oci/descriptor.ts";
import { KIT_CONFIG, OCI_MANIFEST } from "../../src/oci/media-types.ts";
import { kitEnv } from "../helpers/kit.ts";
import { type FakeRegistry, type ServedFake, serveFake } from "../registry/fake-registry.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, packKit } from "./modelkit-fixtures.ts";

let fake: FakeRegistry;
let host = "";
let served: ServedFake;

beforeAll(() => {
  served = serveFake({ tagsPageSize: 2 });
  ({ fake, host } = served);
});
afterAll(() => served.stop());

const env = () => kitEnv("kit-remote-fake-");

const KIT_B = { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: b\n  authors: [Ann]\ncode:\n  - path: src\n", "src/a.py": "print(1)\n" };
const KIT_C = { Kitfile: "manifestVersion: 1.0.0\npackage:\n  name: c\ndocs:\n  - path: README.md\n", "README.md": "# c\n" };

/** Packs the kits into a fresh home under `repository` and pushes every tag; returns the home's runner. */
async function publish(repository: string, kits: Array<[Record<string, string>, string[]]>) {
  const e = env();
  const ref = `${host}/${repository}`;
  const digests: string[] = [];
  for (const [files, tags] of kits) {
    digests.push(await packKit(e.home, files, { tag: `${ref}:${tags.join(",")}`, shape: files === APPENDIX_A_FILES ? "v1.7" : "newest" }));
    for (const t of tags) {
      const r = await e.run(["push", `${ref}:${t}`, "--plain-http"]);
      expect([t, r.stderr, r.code]).toEqual([t, "", 0]);
    }
  }
  return { ...e, ref, digests };
}

describe("list REPOSITORY", () => {
  test("follows Link pagination to every tag; rows equal the local listing's", async () => {
    const p = await publish("org/paged", [[APPENDIX_A_FILES, ["a1", "a2"]], [KIT_B, ["b1", "b2"]], [KIT_C, ["c1"]]]);
    const before = fake.log.length;
    const remote = await env().run(["list", p.ref, "--plain-http"]);
    const pages = fake.log.slice(before).filter((r) => r.url.pathname.endsWith("/tags/list")).map((r) => r.url.pathname + r.url.search);
    expect(pages).toEqual(["/v2/org/paged/tags/list", "/v2/org/paged/tags/list?last=a2&n=2", "/v2/org/paged/tags/list?last=b2&n=2"]);
    const [a, b, c] = p.digests;
    const rows = [[a, "a1", "<none>", "example", "2.0 KiB"], [a, "a2", "<none>", "example", "2.0 KiB"], [b, "b1", "Ann   ", "b      ", "2.5 KiB"], [b, "b2", "Ann   ", "b      ", "2.5 KiB"], [c, "c1", "<none>", "c      ", "2.0 KiB"]];
    rows.sort((x, y) => (x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : 0));
    expect(remote).toEqual({
      code: 0,
      stderr: "",
      stdout: "REPOSITORY   TAG   MAINTAINER   NAME      SIZE      DIGEST\n" + rows.map(([d, t, who, n, size]) => `org/paged    ${t}    ${who}       ${n}   ${size}   ${d}\n`).join(""),
    });
    // The same entries, in the same order, as the publisher's local listing.
    const local = JSON.parse((await p.run(["list", "--format", "json"])).stdout) as Array<{ repo: string }>;
    const json = await env().run(["list", p.ref, "--plain-http", "--format", "json"]);
    expect(JSON.parse(json.stdout)).toEqual(local.map((e) => ({ ...e, repo: "org/paged" })));
  });

  test("each manifest is read once however many tags point to it", async () => {
    const p = await publish("org/once", [[APPENDIX_A_FILES, ["x", "y", "z"]]]);
    const before = fake.log.length;
    const r = await env().run(["list", p.ref, "--plain-http", "--format", "{{ .Tags }}"]);
    expect(r).toEqual({ code: 0, stderr: "", stdout: "[x y z]\n" });
    const reqs = fake.log.slice(before).map((l) => `${l.method} ${l.url.pathname}`);
    expect(reqs.filter((l) => l.startsWith("HEAD ")).sort()).toEqual(["x", "y", "z"].map((t) => `HEAD /v2/org/once/manifests/${t}`));
    expect(reqs.filter((l) => l.startsWith("GET ") && l.includes("/manifests/"))).toEqual([`GET /v2/org/once/manifests/${APPENDIX_A_DIGEST}`]);
  });

  test("a tag deleted between listing and reading it is skipped with a debug line", async () => {
    const p = await publish("org/racy", [[APPENDIX_A_FILES, ["keep", "gone"]]]);
    fake.intercept((req, url) =>
      req.method === "HEAD" && url.pathname === "/v2/org/racy/manifests/gone"
        ? new Response(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }), { status: 404, headers: { "content-type": "application/json" } })
        : undefined,
    );
    const e = env();
    const r = await e.run(["list", p.ref, "--plain-http", "-v", "--format", "{{ .Tags }}"]);
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `[DEBUG] Using config directory: ${e.home}\n[DEBUG] Listing remote model kits in ${p.ref}\n[DEBUG] Skipping tag gone in ${p.ref}: gone: not found\n[keep]\n`,
    });
  });

  test("a ModelKit whose config is missing is left out with a warning naming it and how to remove it", async () => {
    const config = new TextEncoder().encode('{"manifestVersion":"1.0.0","package":{"name":"broken"}}');
    const cdesc = descriptorFromBytes(KIT_CONFIG, config); // never uploaded
    const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config: cdesc, layers: [] }));
    const d = fake.putManifest("org/broken", OCI_MANIFEST, manifest, "v1");
    const r = await env().run(["list", `${host}/org/broken`, "--plain-http"]);
    expect(r).toEqual({
      code: 0,
      stdout: "REPOSITORY   TAG   MAINTAINER   NAME   SIZE   DIGEST\n",
      stderr:
        `[WARN ] Skipping ModelKit ${host}/org/broken@${d}, which cannot be read: ${cdesc.digest}: ${KIT_CONFIG}: not found\n` +
        `[WARN ] Remove it with: kit remove --remote --force ${host}/org/broken@${d}\n`,
    });
  });
});

describe("remove --remote", () => {
  test("a tag is untagged; the ModelKit and its other tags stay", async () => {
    const p = await publish("rm/untag", [[APPENDIX_A_FILES, ["a", "b"]]]);
    expect(await env().run(["remove", "-r", `${p.ref}:a`, "--plain-http"])).toEqual({ code: 0, stderr: "", stdout: `Untagging remote ModelKit ${p.ref}:a\n` });
    expect([...fake.tags.get("rm/untag")!.keys()]).toEqual(["b"]);
    expect(fake.manifests.get("rm/untag")!.has(APPENDIX_A_DIGEST)).toBe(true);
  });

  test("extra comma tags are removed too; a failing one is reported, the rest done, and the exit code is 1", async () => {
    const p = await publish("rm/extra", [[APPENDIX_A_FILES, ["a", "b", "c"]]]);
    expect(await env().run(["remove", "-r", `${p.ref}:a,zz,b`, "--plain-http"])).toEqual({
      code: 1,
      stdout: `Untagging remote ModelKit ${p.ref}:a\nUntagging remote ModelKit ${p.ref}:b\n`,
      stderr: `[ERROR] Failed to remove tag zz: model ${p.ref}:zz not found\n[ERROR] Could not remove 1 tag: zz\n`,
    });
    expect([...fake.tags.get("rm/extra")!.keys()]).toEqual(["c"]);
  });

  test("a registry refusing deletes (405) is kit's 'removing models is unsupported'", async () => {
    const p = await publish("rm/refused", [[APPENDIX_A_FILES, ["a"]]]);
    fake.intercept((req) =>
      req.method === "DELETE"
        ? new Response(JSON.stringify({ errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] }), { status: 405, headers: { "content-type": "application/json" } })
        : undefined,
    );
    expect(await env().run(["remove", "-r", `${p.ref}@${APPENDIX_A_DIGEST}`, "--plain-http"])).toEqual({
      code: 1,
      stdout: `Deleting remote ModelKit ${p.ref}@${APPENDIX_A_DIGEST}\n`,
      stderr: `[ERROR] Removing models is unsupported by registry ${host}\n`,
    });
    expect(fake.manifests.get("rm/refused")!.has(APPENDIX_A_DIGEST)).toBe(true);
  });

  test("a registry refusing every delete (405): the untag falls back to a delete by digest, which is refused too", async () => {
    const p = await publish("rm/notag", [[APPENDIX_A_FILES, ["a"]]]);
    for (let i = 0; i < 2; i++) {
      fake.intercept((req) =>
        req.method === "DELETE"
          ? new Response(JSON.stringify({ errors: [{ code: "UNSUPPORTED", message: "The operation is unsupported." }] }), { status: 405, headers: { "content-type": "application/json" } })
          : undefined,
      );
    }
    expect(await env().run(["remove", "-r", `${p.ref}:a`, "--plain-http"])).toEqual({
      code: 1,
      stdout:
        `Untagging remote ModelKit ${p.ref}:a\n` +
        `Registry ${host} cannot remove a tag on its own and no other tag refers to ${APPENDIX_A_DIGEST}: deleting the ModelKit instead\n` +
        `Deleting remote ModelKit ${p.ref}@${APPENDIX_A_DIGEST}\n`,
      stderr: `[ERROR] Removing models is unsupported by registry ${host}\n`,
    });
    expect(fake.manifests.get("rm/notag")!.has(APPENDIX_A_DIGEST)).toBe(true);
  });

  test("an unknown reference: kit's 'model <ref> not found'", async () => {
    expect(await env().run(["remove", "-r", `${host}/rm/none:v1`, "--plain-http"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `[ERROR] Model ${host}/rm/none:v1 not found\n`,
    });
  });
});
