/**
 * kit's global (persistent) flags, exactly as kit names them (docs/format.md#global-flags).
 * @module
 */
import type { FlagTable } from "./flags.ts";

export const globalFlags = {
  config: { type: "string", help: "Alternate path to root storage directory for CLI" },
  "log-level": { type: "string", default: "info", values: ["trace", "debug", "info", "warn", "error"], help: "Log messages above specified level ('trace', 'debug', 'info', 'warn', 'error')" },
  progress: { type: "string", default: "plain", values: ["none", "plain", "fancy"], help: "Configure progress bars for longer operations (options: none, plain, fancy)" },
  verbose: { type: "count", short: "v", help: "Increase verbosity of output (use -vv for more)" },
} satisfies FlagTable;
