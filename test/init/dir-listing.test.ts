import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isIgnoredName, listDirectory } from "../../src/init/dir-listing.ts";
import { memoryLogger } from "../../src/util/log.ts";
import { writeFiles } from "../helpers/files.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "kit-init-listing-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test("recursive listing in bytewise order, hidden entries, junk and symlinks skipped", async () => {
  const files: Record<string, number> = {
    "b.txt": 3,
    "B.txt": 1,
    "a/z.bin": 5,
    "a/é.txt": 2,
    "a/e.txt": 0,
    "a/nested/deep.csv": 7,
    ".git/HEAD": 1,
    ".hidden": 1,
    "a/.DS_Store": 1,
    "Thumbs.db": 1,
    "DESKTOP.INI": 1,
  };
  writeFiles(root, files);
  fs.mkdirSync(path.join(root, "empty"));
  fs.symlinkSync("b.txt", path.join(root, "link.txt"));
  fs.symlinkSync("a", path.join(root, "linkdir"));

  const log = memoryLogger("debug");
  const listing = await listDirectory(root, log);
  expect(listing).toEqual({
    name: ".",
    path: ".",
    files: [
      { name: "B.txt", path: "B.txt", size: 1 },
      { name: "b.txt", path: "b.txt", size: 3 },
    ],
    subdirs: [
      {
        name: "a",
        path: "a",
        files: [
          { name: "e.txt", path: "a/e.txt", size: 0 },
          { name: "z.bin", path: "a/z.bin", size: 5 },
          { name: "é.txt", path: "a/é.txt", size: 2 },
        ],
        subdirs: [
          { name: "nested", path: "a/nested", files: [{ name: "deep.csv", path: "a/nested/deep.csv", size: 7 }], subdirs: [] },
        ],
      },
      { name: "empty", path: "empty", files: [], subdirs: [] },
    ],
  });
  expect(log.text()).toContain("Skipping symlink link.txt\n");
  expect(log.text()).toContain("Skipping symlink linkdir\n");
});

test("isIgnoredName", () => {
  for (const n of [".git", ".DS_Store", ".env", ".kitfile", "Thumbs.db", "thumbs.DB", "desktop.ini", "ehthumbs.db", "$RECYCLE.BIN"]) {
    expect(isIgnoredName(n)).toBe(true);
  }
  for (const n of ["Kitfile", "git", "model.gguf", "Thumbs.db.bak"]) expect(isIgnoredName(n)).toBe(false);
});

test("unreadable root", async () => {
  const missing = path.join(root, "nope");
  await expect(listDirectory(missing, memoryLogger())).rejects.toThrow(`failed to read directory ${missing}: `);
});
