/**
 * The remote repository passes the shared Target suite against a real registry (Debian's
 * docker-registry), with and without auth, and with uploads streamed rather than buffered.
 */
import { afterAll, beforeAll, describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { credentialStore, openSession } from "../../src/registry/remote.ts";
import { DEFAULT_NETWORK_OPTIONS } from "../../src/registry/network-options.ts";
import { describeTarget } from "../store/conformance.ts";
import { hasDockerRegistry, startRegistry, type RegistryAuth, type TestRegistry } from "../helpers/registry.ts";

const setups: Array<{ auth: RegistryAuth; bufferLimit?: number }> = [
  { auth: "none" },
  { auth: "token" },
  { auth: "htpasswd", bufferLimit: 0 },
];

describe.skipIf(!hasDockerRegistry())("RemoteRepository against docker-registry", () => {
  for (const setup of setups) {
    let reg: TestRegistry;
    let home: string;
    let n = 0;
    beforeAll(async () => {
      reg = await startRegistry(setup.auth);
      home = mkdtempSync(path.join(os.tmpdir(), "kit-conf-home-"));
      if (setup.auth !== "none") await credentialStore({ home, env: {} }).put(reg.host, { username: reg.username, password: reg.password });
    });
    afterAll(async () => {
      await reg?.stop();
      rmSync(home, { recursive: true, force: true });
    });
    const label = `RemoteRepository (${setup.auth}${setup.bufferLimit === 0 ? ", streamed uploads" : ""})`;
    describeTarget(label, async () => {
      const session = await openSession(
        { ...DEFAULT_NETWORK_OPTIONS, plainHttp: true },
        { home, env: {}, version: "test", transport: { retry: { maxRetries: 0 } } },
      );
      const opts = setup.bufferLimit === undefined ? {} : { bufferLimit: setup.bufferLimit };
      return { target: session.repository(reg.host, `conformance/t${++n}`, { actions: ["pull", "push"], ...opts }) };
    });
  }
});
