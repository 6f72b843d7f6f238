/**
 * A TCP proxy in front of a test registry that misbehaves on demand: per matching request it can
 * answer a status (e.g. 503) without forwarding, cut the connection after N bytes, or delay.
 * Every forwarded request is forced to `Connection: close`, so each connection carries exactly one
 * request and rules apply per request. Byte counts per request let tests measure re-downloads.
 * A throttle rule makes a transfer take as long as a test needs (progress output); one for every
 * GET (`times: Infinity`) caps each connection, as CDNs and object stores do.
 *
 * `bufferRequests` reads a request's whole body before forwarding it (nginx's default
 * `proxy_request_buffering on`), so an upload cut short never reaches the registry. Bytes that are
 * not HTTP (a client trying TLS first) pass through untouched, so the registry answers them.
 */
import net from "node:net";

export type FaultAction =
  | { kind: "status"; status: number; retryAfter?: number }
  /**
   * Drops the connection after `afterBytes` bytes in `direction` (default down): with a reset
   * (default) or a clean close. A download answer that ends (or is hung up on by the client)
   * before that many bytes was not cut: the fault stays for the next matching request.
   */
  | { kind: "cut"; afterBytes: number; direction?: "down" | "up"; mode?: "reset" | "close"; holdMs?: number }
  | { kind: "delay"; ms: number }
  /**
   * Forwards at most `bytesPerSecond` in `direction` (default down), checked every 50 ms: a slow
   * link. A token bucket holding at most a fifth of a second's worth: late timers are made up
   * for, a stall upstream is not (no bursts above the cap).
   */
  | { kind: "throttle"; bytesPerSecond: number; direction?: "down" | "up" };

export interface FaultRule {
  method?: string;
  path?: RegExp;
  action: FaultAction;
  /** How many matching requests get the fault. */
  times: number;
  /** Matching requests let through unharmed before the fault applies (default 0). */
  skip?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Bytes sent from the registry to the client (headers included). */
  bytesDown: number;
  /** Bytes sent from the client to the registry (headers included). */
  bytesUp: number;
  /** The fault applied to this request (a download cut only once it happened). */
  fault?: FaultAction["kind"];
}

export interface FaultProxyOptions {
  /** Forward a request with a `Content-Length` body only once all of it has arrived. */
  bufferRequests?: boolean;
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

export async function startFaultProxy(target: { host: string; port: number }, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
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
      if (!/^[A-Z]/.test(buf.toString("latin1", 0, 1))) {
        // Not HTTP (a client trying TLS first): passed through untouched, so the registry answers it as it would.
        client.off("data", onData);
        const upstream = net.connect(target.port, target.host, () => {
          upstream.write(buf);
          client.pipe(upstream).pipe(client);
        });
        sockets.add(upstream);
        upstream.on("error", () => kill(client));
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
        return;
      }
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.off("data", onData);
      client.pause();
      const head = buf.subarray(0, end).toString("latin1");
      let rest = buf.subarray(end + 4);
      const [method = "", p = ""] = head.split("\r\n")[0]!.split(" ");
      const req: ProxiedRequest = { method, path: p, bytesDown: 0, bytesUp: 0 };
      requests.push(req);
      let rule = rules.find((r) => r.times > 0 && (!r.method || r.method === method) && (!r.path || r.path.test(p)));
      if (rule?.skip) {
        rule.skip--;
        rule = undefined;
      }
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
          unspent();
          sockets.delete(upstream);
          // What a throttle still holds goes out first.
          const end = () => (queued.down.length && !client.destroyed ? void setTimeout(end, 50) : client.end());
          end();
        });
        upstream.on("error", () => kill(client));
        client.on("close", () => {
          unspent();
          upstream.destroy();
        });
        // A buffered request's upload cut happened before anything was forwarded.
        const cut = action?.kind === "cut" && !(opts.bufferRequests && action.direction === "up") ? action : undefined;
        let cutDone = false;
        /** A download that ended before its cut point was not cut: the rule gets the fault back. */
        const unspent = () => {
          if (!cut || cutDone || (cut.direction ?? "down") !== "down") return;
          cutDone = true;
          rule!.times++;
          delete req.fault;
        };
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
          if (throttle && (throttle.direction ?? "down") === dir) {
            slowly(dir, d, write, throttle.bytesPerSecond, add);
            return;
          }
          add(d.byteLength);
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
        /** Each direction's token bucket: bytes it may pass on now, as of `at`. */
        const paced = { down: { at: 0, tokens: 0 }, up: { at: 0, tokens: 0 } };
        /**
         * Queues `d` and passes the queue on at `bytesPerSecond` (checked every 50 ms against the
         * direction's token bucket), holding the sending side meanwhile. Bytes count when they are
         * passed on (a client that hangs up early did not receive the rest).
         */
        const slowly = (dir: "down" | "up", d: Buffer, write: (b: Buffer) => boolean, bytesPerSecond: number, add: (n: number) => void) => {
          const from = dir === "down" ? upstream : client;
          const queue = queued[dir];
          const pace = paced[dir];
          if (pace.at === 0) {
            pace.at = performance.now();
            pace.tokens = bytesPerSecond / 20;
          }
          queue.push(d);
          from.pause();
          if (pumping[dir]) return;
          pumping[dir] = true;
          const step = () => {
            if (client.destroyed || upstream.destroyed && dir === "up") return;
            const now = performance.now();
            pace.tokens = Math.min(bytesPerSecond / 5, pace.tokens + ((now - pace.at) / 1000) * bytesPerSecond);
            pace.at = now;
            let budget = Math.floor(pace.tokens);
            while (budget > 0 && queue.length) {
              const b = queue[0]!;
              const part = b.subarray(0, budget);
              write(part);
              add(part.byteLength);
              pace.tokens -= part.byteLength;
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
      const start = () => (action?.kind === "delay" ? void setTimeout(forward, action.ms) : forward());
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (!opts.bufferRequests || length === 0) return start();
      // Buffering: nothing reaches the registry until the whole body is here; a cut drops it.
      const upCut = action?.kind === "cut" && action.direction === "up" ? action.afterBytes : Infinity;
      const parts: Buffer[] = [rest];
      let got = rest.byteLength;
      const collect = (d?: Buffer) => {
        if (d) {
          parts.push(d);
          got += d.byteLength;
        }
        if (end + 4 + got >= upCut) {
          client.off("data", collect);
          req.bytesUp = upCut;
          kill(client);
          return;
        }
        if (got < length) return;
        rest = Buffer.concat(parts);
        client.off("data", collect);
        client.pause();
        start();
      };
      client.on("data", collect);
      client.resume();
      collect();
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
