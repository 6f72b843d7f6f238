/**
 * The test fault proxy (test/helpers/fault-proxy.ts) as its own process for the benchmark, which
 * times commands with a blocking spawn: `bun scripts/bench/throttle-proxy.ts HOST PORT BYTES_PER_SECOND`
 * caps each connection to the registry at HOST:PORT and prints the proxy's port; SIGTERM stops it.
 * @module
 */
import { startFaultProxy } from "../../test/helpers/fault-proxy.ts";

const [host = "127.0.0.1", port = "", rate = ""] = process.argv.slice(2);
const proxy = await startFaultProxy({ host, port: Number(port) });
// Every GET, every connection: capped at the rate.
proxy.addRule({ method: "GET", action: { kind: "throttle", bytesPerSecond: Number(rate) }, times: Infinity });
console.log(proxy.port);
process.on("SIGTERM", () => {
  void proxy.close().then(() => process.exit(0));
});
