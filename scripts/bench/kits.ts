/**
 * Fills a kit home with many small ModelKits quickly by calling the pack library in this process
 * (no process start per kit). Each kit has its own model bytes, so each is a distinct manifest.
 * @module
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseKitfile } from "../../src/kitfile/parse.ts";
import { pack } from "../../src/modelkit/pack.ts";
import { LayoutStore } from "../../src/store/layout.ts";
import { silentLogger } from "../../src/util/log.ts";
import { homePaths } from "../../src/util/paths.ts";
import { makeTinyProject, removeTree } from "./data.ts";

/**
 * Packs `count` tiny ModelKits into the storage of kit home `home`, spread over 50 repositories
 * (`localhost/bench/model-NN:vI`). `work` is a scratch directory for the projects.
 */
export async function fillStore(home: string, work: string, count: number): Promise<void> {
  const storage = await LayoutStore.open(homePaths(home).storage);
  const created = "2026-01-01T00:00:00Z";
  for (let i = 0; i < count; i++) {
    const dir = path.join(work, `tiny-${i}`);
    makeTinyProject(dir, i);
    const { kitfile } = parseKitfile(readFileSync(path.join(dir, "Kitfile"), "utf8"), "Kitfile");
    await pack({
      context: dir,
      kitfile,
      storage,
      repo: `localhost/bench/model-${String(i % 50).padStart(2, "0")}`,
      tags: [`v${i}`],
      compression: "none",
      layerFormat: "tar",
      shape: "newest",
      cliVersion: "bench",
      created,
      logger: silentLogger,
    });
    removeTree(dir);
  }
}
