/** The README's install sections: the YAML examples parse and name what the release really has. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { RELEASE_TARGETS } from "../../scripts/build.ts";

const readme = readFileSync(path.resolve(import.meta.dir, "../../README.md"), "utf8");
const install = readme.slice(readme.indexOf("## Install"), readme.indexOf("## Usage"));
const yamlBlocks = [...install.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, any>);

test("the install section names every release archive", () => {
  for (const t of RELEASE_TARGETS) expect(install).toContain(`kitops-${t.name}.${t.os === "linux" ? "tar.gz" : "zip"}`);
  expect(install).toContain("sha256sum --ignore-missing -c SHA256SUMS");
  expect(install).toContain("com.apple.quarantine");
});

test("three YAML examples: a pod with the init container, GitHub Actions, GitLab CI", () => {
  expect(yamlBlocks.length).toBe(3);
  const [pod, gha, gitlab] = yamlBlocks;
  expect(pod!.kind).toBe("Pod");
  const init = pod!.spec.initContainers[0];
  const env = Object.fromEntries(init.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(Object.keys(env).sort()).toEqual(["COSIGN_KEY", "DOCKER_CONFIG", "MODELKIT_REF", "UNPACK_FILTER", "UNPACK_PATH"]);
  // the init container writes where the main container reads
  const initMount = init.volumeMounts.find((m: { mountPath: string }) => env.UNPACK_PATH.startsWith(m.mountPath + "/"));
  expect(pod!.spec.containers[0].volumeMounts.map((m: { name: string }) => m.name)).toContain(initMount.name);
  expect(pod!.spec.volumes.map((v: { name: string }) => v.name).sort()).toEqual(["cosign-key", "models", "registry-auth"]);

  const steps = gha!.jobs["pack-push"].steps.map((s: { run?: string }) => s.run ?? "").join("\n");
  expect(steps).toContain("kit login ghcr.io");
  expect(steps).toContain("--password-stdin");
  expect(steps).toMatch(/kit pack \. -t "\$ref"\n\s*kit push "\$ref"/);

  const script = gitlab!["pack-push"].script.join("\n");
  expect(gitlab!["pack-push"].image.entrypoint).toEqual([""]);
  expect(script).toContain('kit login "$CI_REGISTRY" -u "$CI_REGISTRY_USER" --password-stdin');
  expect(script).toContain("kit push");
});

test("the environment variables documented for the init container are the script's", () => {
  const script = readFileSync(path.resolve(import.meta.dir, "../../build/init/entrypoint.sh"), "utf8");
  for (const v of ["MODELKIT_REF", "UNPACK_PATH", "UNPACK_FILTER", "EXTRA_FLAGS", "COSIGN_KEY", "COSIGN_CERT_IDENTITY", "COSIGN_CERT_OIDC_ISSUER"]) {
    expect(install).toContain(`\`${v}\``);
    expect(script).toContain(`$${v}`);
  }
});
