/**
 * A TCP proxy in front of a test registry that misbehaves on demand: per matching request it can
 * answer a status (e.g. 503) without forwarding, cut the connection after N bytes, or delay.
 * Every forwarded request is forced to `Connection: close`, so each connection carries exactly one
 * request and rules apply per request. Byte counts per request let tests measure re-downloads.
 * A throttle rule makes a transfer take as long as a test needs (progress output).
 */
import net from "node:net";

export type FaultAction =
  | { kind: "status"; status: number; retryAfter?: number }
  /** Drops the connection after `afterBytes` bytes in `direction` (default down): with a reset (default) or a clean close. */
  | { kind: "cut"; afterBytes: number; direction?: "down" | "up"; mode?: "reset" | "close"; holdMs?: number }
  | { kind: "delay"; ms: number }
  /** Forwards at most `bytesPerSecond` in `direction` (default down), in slices every 50 ms: a slow link. */
  | { kind: "throttle"; bytesPerSecond: number; direction?: "down" | "up" };

export interface FaultRule {
  method?: string;
  path?: RegExp;
  action: FaultAction;
  /** How many matching requests get the fault. */
  times: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Bytes sent from the registry to the client (headers included). */
  bytesDown: number;
  /** Bytes sent from the client to the registry (headers included). */
  bytesUp: number;
  fault?: FaultAction["kind"];
}

export interface FaultProxy {
  port: number;
  /** `127.0.0.1:<port>`. */
  host: string;
  requests: ProxiedRequest[];
  addRule(rule: FaultRule): void;
  /** Rules with faults left to inject. */
  pending(): FaultRule[];
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

function rewriteHead(head: string): string {
  const lines = head.split("\r\n").filter((l, i) => i === 0 || !/^(connection|keep-alive|proxy-connection):/i.test(l));
  lines.push("Connection: close");
  return lines.join("\r\n");
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<net.Socket>();

  const kill = (s: net.Socket) => {
    const r = s as net.Socket & { resetAndDestroy?: () => void };
    if (typeof r.resetAndDestroy === "function") r.resetAndDestroy();
    else s.destroy();
  };

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      client.pause();
      const head = buf.subarray(0, end).toString("latin1");
      const rest = buf.subarray(end + 4);
      const [method = "", p = ""] = head.split("\r\n")[0]!.split(" ");
      const req: ProxiedRequest = { method, path: p, bytesDown: 0, bytesUp: 0 };
      requests.push(req);
      const rule = rules.find((r) => r.times > 0 && (!r.method || r.method === method) && (!r.path || r.path.test(p)));
      if (rule) rule.times--;
      const action = rule?.action;
      if (action) req.fault = action.kind;
      if (action?.kind === "status") {
        const extra = action.retryAfter !== undefined ? `Retry-After: ${action.retryAfter}\r\n` : "";
        client.end(`HTTP/1.1 ${action.status} ${STATUS_TEXT[action.status] ?? "Error"}\r\nContent-Length: 0\r\n${extra}Connection: close\r\n\r\n`);
        return;
      }
      const forward = () => {
        const upstream = net.connect(target.port, target.host);
        sockets.add(upstream);
        upstream.on("close", () => {
          sockets.delete(upstream);
          // What a throttle still holds goes out first.
          const end = () => (queued.down.length && !client.destroyed ? void setTimeout(end, 50) : client.end());
          end();
        });
        upstream.on("error", () => kill(client));
        client.on("close", () => upstream.destroy());
        const cut = action?.kind === "cut" ? action : undefined;
        let cutDone = false;
        const drop = () => {
          cutDone = true;
          upstream.destroy();
          if (cut?.mode === "close") client.end();
          else kill(client);
        };
        /** Passes `d` on in direction `dir`, or only the part before the cut point and then drops the connection. */
        const pass = (dir: "down" | "up", d: Buffer, write: (b: Buffer, cb?: () => void) => boolean) => {
          if (cutDone) return;
          const sent = dir === "down" ? req.bytesDown : req.bytesUp;
          const add = (n: number) => (dir === "down" ? (req.bytesDown += n) : (req.bytesUp += n));
          if (cut && (cut.direction ?? "down") === dir && sent + d.byteLength >= cut.afterBytes) {
            const keep = Math.max(0, cut.afterBytes - sent);
            add(keep);
            cutDone = true;
            // holdMs: the bytes before the cut reach the client (and are read) before the connection drops.
            const later = () => (cut.holdMs ? void setTimeout(drop, cut.holdMs) : drop());
            if (keep > 0) write(d.subarray(0, keep), later);
            else later();
            return;
          }
          add(d.byteLength);
          if (throttle && (throttle.direction ?? "down") === dir) {
            slowly(dir, d, write, throttle.bytesPerSecond);
            return;
          }
          if (!write(d)) {
            // Backpressure: hold the sending side until the receiving side drains.
            const [from, to] = dir === "down" ? [upstream, client] : [client, upstream];
            from.pause();
            to.once("drain", () => from.resume());
          }
        };
        const throttle = action?.kind === "throttle" ? action : undefined;
        const queued: Record<"down" | "up", Buffer[]> = { down: [], up: [] };
        const pumping = { down: false, up: false };
        /** Queues `d` and writes the queue in slices of a 20th of the rate every 50 ms, holding the sending side meanwhile. */
        const slowly = (dir: "down" | "up", d: Buffer, write: (b: Buffer) => boolean, bytesPerSecond: number) => {
          const from = dir === "down" ? upstream : client;
          const queue = queued[dir];
          queue.push(d);
          from.pause();
          if (pumping[dir]) return;
          pumping[dir] = true;
          const step = () => {
            if (client.destroyed || upstream.destroyed && dir === "up") return;
            let budget = Math.max(1, Math.floor(bytesPerSecond / 20));
            while (budget > 0 && queue.length) {
              const b = queue[0]!;
              const part = b.subarray(0, budget);
              write(part);
              budget -= part.byteLength;
              if (part.byteLength === b.byteLength) queue.shift();
              else queue[0] = b.subarray(part.byteLength);
            }
            if (queue.length) return void setTimeout(step, 50);
            pumping[dir] = false;
            from.resume();
          };
          step();
        };
        upstream.on("connect", () => {
          pass("up", Buffer.concat([Buffer.from(rewriteHead(head) + "\r\n\r\n", "latin1"), rest]), (b, cb) => upstream.write(b, cb));
          client.on("data", (d: Buffer) => pass("up", d, (b, cb) => upstream.write(b, cb)));
          client.resume();
        });
        upstream.on("data", (d: Buffer) => pass("down", d, (b, cb) => client.write(b, cb)));
      };
      if (action?.kind === "delay") setTimeout(forward, action.ms);
      else forward();
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    requests,
    addRule: (r) => void rules.push({ ...r }),
    pending: () => rules.filter((r) => r.times > 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
