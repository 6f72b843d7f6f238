/** Loaded before every test file (bunfig.toml): cleans up what the helpers create. */
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/kit.ts";

// In a preload file afterAll is global: it runs once, after the last test file.
afterAll(removeTempDirs);
