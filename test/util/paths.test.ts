import { expect, test } from "bun:test";
import { resolveHome } from "../../src/util/paths.ts";
import { KitError } from "../../src/util/errors.ts";

const base = { flag: "", env: {}, platform: "linux" as NodeJS.Platform, cwd: "/work", homedir: "/home/u" };

test("--config wins and is made absolute", () => {
  expect(resolveHome({ ...base, flag: "rel/dir", env: { KITOPS_HOME: "/x" } })).toBe("/work/rel/dir");
});
test("KITOPS_HOME next", () => {
  expect(resolveHome({ ...base, env: { KITOPS_HOME: "kh", XDG_DATA_HOME: "/xdg" } })).toBe("/work/kh");
});
test("Linux: XDG_DATA_HOME, then HOME", () => {
  expect(resolveHome({ ...base, env: { XDG_DATA_HOME: "/xdg" } })).toBe("/xdg/kitops");
  expect(resolveHome({ ...base, env: { HOME: "/h" } })).toBe("/h/.local/share/kitops");
});
test("macOS and Windows defaults", () => {
  expect(resolveHome({ ...base, platform: "darwin" })).toBe("/home/u/Library/Caches/kitops");
  expect(resolveHome({ ...base, platform: "win32", env: { LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" } })).toBe("C:\\Users\\u\\AppData\\Local\\kitops");
});
test("no home at all is kit's error", () => {
  expect(() => resolveHome({ ...base, homedir: "", env: {} })).toThrow(new KitError("Failed to read base config directory"));
});
