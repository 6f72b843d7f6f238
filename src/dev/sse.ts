/**
 * A server-sent-events response whose producer learns when the client goes away.
 *
 * The response is handed out only once the producer sends its first event (or finishes), so an
 * error found before any output (a prompt too long for the context, a model still loading)
 * still becomes a proper HTTP error status instead of an event inside a 200 stream.
 * @module
 */

export interface SseWriter {
  /** Sends one `data: <json>` event (or the literal `[DONE]`). False once the client is gone. */
  send(data: unknown): boolean;
  /** Aborted when the client disconnects (the body is cancelled). */
  readonly signal: AbortSignal;
}

const enc = new TextEncoder();

export const SSE_HEADERS: Record<string, string> = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  "X-Accel-Buffering": "no",
};

/**
 * Starts `produce` and resolves with the streaming response at its first event. If `produce`
 * throws before sending anything the promise rejects with that error; if it throws later,
 * `onError` may send a last event, then the stream ends.
 */
export function sseResponse(produce: (w: SseWriter) => Promise<void>, onError: (e: unknown, w: SseWriter) => void): Promise<Response> {
  const gone = new AbortController();
  const { promise, resolve, reject } = Promise.withResolvers<Response>();
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  let started = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
    },
    cancel() {
      open = false;
      gone.abort();
    },
  });
  const response = new Response(body, { headers: SSE_HEADERS });
  const close = () => {
    if (!open) return;
    open = false;
    try {
      ctl.close();
    } catch {
      // already cancelled
    }
  };
  const writer: SseWriter = {
    signal: gone.signal,
    send(data) {
      if (!open) return false;
      const text = data === "[DONE]" ? "[DONE]" : JSON.stringify(data);
      try {
        ctl.enqueue(enc.encode(`data: ${text}\n\n`));
      } catch {
        return false;
      }
      if (!started) {
        started = true;
        resolve(response);
      }
      return true;
    },
  };
  void (async () => {
    try {
      await produce(writer);
    } catch (e) {
      if (!started) {
        open = false;
        void body.cancel().catch(() => {});
        reject(e);
        return;
      }
      if (open) onError(e, writer);
    }
    close();
    resolve(response);
  })();
  return promise;
}
