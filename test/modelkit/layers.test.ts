import { describe, expect, test } from "bun:test";
import { createIgnore } from "../../src/modelkit/ignore.ts";
import { belongsToOtherLayer, isWithinPath } from "../../src/modelkit/layers.ts";

describe("isWithinPath", () => {
  test("whole segments only", () => {
    expect(isWithinPath("data", "data")).toBe(true);
    expect(isWithinPath("data/x", "data")).toBe(true);
    expect(isWithinPath("data2", "data")).toBe(false);
    expect(isWithinPath("data2/x", "data")).toBe(false);
    expect(isWithinPath("database.csv", "data")).toBe(false);
    expect(isWithinPath("./data/x/", "data/")).toBe(true);
    expect(isWithinPath("anything/at/all", ".")).toBe(true);
    expect(isWithinPath("../outside", ".")).toBe(false);
  });
});

describe("belongsToOtherLayer (docs/format.md#layer-ownership, segment-wise)", () => {
  test("data vs data2: neither swallows the other", () => {
    const layers = ["data", "data2"];
    expect(belongsToOtherLayer("data2/f.csv", "data", layers)).toBe(true);
    expect(belongsToOtherLayer("data/f.csv", "data", layers)).toBe(false);
    expect(belongsToOtherLayer("data2/f.csv", "data2", layers)).toBe(false);
    expect(belongsToOtherLayer("data/f.csv", "data2", layers)).toBe(true);
  });
  test(". vs data: the root layer keeps data2/ and database.csv", () => {
    const layers = [".", "data"];
    expect(belongsToOtherLayer("data/f.csv", ".", layers)).toBe(true);
    expect(belongsToOtherLayer("data", ".", layers)).toBe(true);
    expect(belongsToOtherLayer("data2/f.csv", ".", layers)).toBe(false);
    expect(belongsToOtherLayer("database.csv", ".", layers)).toBe(false);
    // `.` is a parent of `data`, so it never claims files from the data layer.
    expect(belongsToOtherLayer("data/f.csv", "data", layers)).toBe(false);
  });
  test("main vs main/subdir: the most specific layer wins", () => {
    const layers = ["main", "main/subdir"];
    expect(belongsToOtherLayer("main/subdir/x", "main", layers)).toBe(true);
    expect(belongsToOtherLayer("main/subdir/x", "main/subdir", layers)).toBe(false);
    expect(belongsToOtherLayer("main/other", "main", layers)).toBe(false);
    expect(belongsToOtherLayer("main/subdirectory/x", "main", layers)).toBe(false);
  });
  test("ancestors of another layer stay in the outer layer", () => {
    expect(belongsToOtherLayer("a", ".", [".", "a/b"])).toBe(false);
    expect(belongsToOtherLayer("a/b", ".", [".", "a/b"])).toBe(true);
  });
  test("combined with .kitignore: kit's nested-layer vector", () => {
    const ig = createIgnore("**/testfile.txt");
    const layers = ["main", "main/subdir"];
    const ignored = (f: string, p: string) => ig.matches(f) || belongsToOtherLayer(f, p, layers);
    expect(ignored("main/subdir/x", "main")).toBe(true);
    expect(ignored("main/subdir/x", "main/subdir")).toBe(false);
    expect(ignored("main/subdir/testfile.txt", "main/subdir")).toBe(true);
  });
});
