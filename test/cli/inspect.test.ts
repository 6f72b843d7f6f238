import { expect, test } from "bun:test";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { runInProcess, tempDir } from "../helpers/kit.ts";
import { APPENDIX_A_DIGEST, APPENDIX_A_FILES, packKit, pushManifest } from "./modelkit-fixtures.ts";

const APPENDIX_A_INSPECT = `{
  "digest": "${APPENDIX_A_DIGEST}",
  "cliVersion": "1.7.0",
  "kitfile": {
    "manifestVersion": "1.0.0",
    "package": {
      "name": "example"
    },
    "model": {
      "path": "model.bin",
      "digest": "sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce",
      "diffId": "sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce"
    }
  },
  "manifest": {
    "schemaVersion": 2,
    "config": {
      "mediaType": "application/vnd.kitops.modelkit.config.v1+json",
      "digest": "sha256:43c910ca179517c0d701b8489153e4e34b3a7d2475e0721a57b357bb891acb00",
      "size": 251
    },
    "layers": [
      {
        "mediaType": "application/vnd.kitops.modelkit.model.v1.tar",
        "digest": "sha256:e5175fb8740a78e8aa5f4b92321cd638b94d3580fe29d51eb4feed422d4d0dce",
        "size": 2048
      }
    ],
    "annotations": {
      "ml.kitops.modelkit.cli-version": "1.7.0"
    }
  }
}
`;

test("inspect prints kit's JSON document for the Appendix A kit, as one info line", async () => {
  const home = tempDir();
  await packKit(home, APPENDIX_A_FILES, { tag: "example:v1", shape: "v1.7" });
  const env = { KITOPS_HOME: home };
  expect(await runInProcess(["inspect", "example:v1"], { env })).toEqual({ code: 0, stdout: APPENDIX_A_INSPECT, stderr: "" });
  expect(await runInProcess(["inspect", `example@${APPENDIX_A_DIGEST}`], { env })).toEqual({ code: 0, stdout: APPENDIX_A_INSPECT, stderr: "" });
  // Only the first line of the message carries the level prefix.
  const v = await runInProcess(["inspect", "example:v1", "-v"], { env });
  expect(v.stdout.endsWith("[INFO ] " + APPENDIX_A_INSPECT)).toBe(true);
});

test("inspect shows the newest manifest shape as stored, and the cli version annotation", async () => {
  const home = tempDir();
  const digest = await packKit(home, APPENDIX_A_FILES, { tag: "example:v2", version: "2.0.0-test" });
  const r = await runInProcess(["inspect", "example:v2"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(Object.keys(doc)).toEqual(["digest", "cliVersion", "kitfile", "manifest"]);
  expect(doc.digest).toBe(digest);
  expect(doc.cliVersion).toBe("2.0.0-test");
  expect(Object.keys(doc.manifest)).toEqual(["schemaVersion", "mediaType", "artifactType", "config", "layers", "annotations"]);
  expect(doc.manifest.layers[0].annotations).toEqual({ "org.cncf.model.filepath": "model.bin" });
  expect(doc.manifest.annotations).toEqual({ "ml.kitops.modelkit.cli-version": "2.0.0-test", "org.opencontainers.image.created": "2025-01-02T03:04:05Z" });
});

test("a manifest without the version annotation reports cliVersion unknown; nil layers stay null", async () => {
  const home = tempDir();
  const config = '{"manifestVersion":"1.0.0","package":{}}';
  const desc = await pushManifest(home, "localhost/bare", { config, layers: null }, "v1");
  const r = await runInProcess(["inspect", "bare:v1"], { env: { KITOPS_HOME: home } });
  expect(r).toEqual({
    code: 0,
    stderr: "",
    stdout: `{
  "digest": "${desc.digest}",
  "cliVersion": "unknown",
  "kitfile": {
    "manifestVersion": "1.0.0",
    "package": {}
  },
  "manifest": {
    "schemaVersion": 2,
    "config": {
      "mediaType": "application/vnd.kitops.modelkit.config.v1+json",
      "digest": "${digestOf(config)}",
      "size": ${config.length}
    },
    "layers": null
  }
}
`,
  });
});

test("a ModelPack without a Kitfile is inspected without the kitfile key", async () => {
  const home = tempDir();
  const layer: Descriptor = {
    mediaType: "application/vnd.cncf.model.weight.v1.tar",
    digest: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    size: 1024,
    annotations: { "org.cncf.model.filepath": "model.bin" },
  };
  await pushManifest(home, "localhost/pack", { configMediaType: "application/vnd.cncf.model.config.v1+json", config: "{}", layers: [layer] }, "v1");
  const r = await runInProcess(["inspect", "pack:v1"], { env: { KITOPS_HOME: home } });
  expect(r.code).toBe(0);
  expect(r.stderr).toBe("");
  const doc = JSON.parse(r.stdout);
  expect(Object.keys(doc)).toEqual(["digest", "cliVersion", "manifest"]);
  expect(doc.manifest.layers).toEqual([layer]);
});

test("inspect errors: not found, not a ModelKit, extra tags, --remote without a registry", async () => {
  const home = tempDir();
  const inspect = (...args: string[]) => runInProcess(["inspect", ...args], { env: { KITOPS_HOME: home } });
  expect(await inspect("example:v1")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Could not find modelkit example:v1\n" });
  expect(await inspect("reg.io:5000/org/example")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Could not find modelkit reg.io:5000/org/example:latest\n" });
  await pushManifest(home, "localhost/image", { configMediaType: "application/vnd.oci.image.config.v1+json", config: "{}" }, "latest");
  expect(await inspect("image")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Error resolving modelkit: reference exists but is not a modelkit\n" });
  expect(await inspect("example:v1,v2,v3")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: invalid reference format: extra tags are not supported: v2, v3\n" });
  expect(await inspect("-r", "example:v1")).toEqual({ code: 1, stdout: "", stderr: "[ERROR] Invalid arguments: can not check remote: example:v1 does not contain registry\n" });
  // --remote against a registry: test/integration/remote-commands.test.ts.
});
