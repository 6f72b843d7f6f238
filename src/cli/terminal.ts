/**
 * Reading from the process's stdin: all of it, as a stream, or a prompt on the terminal.
 * @module
 */
import { Readable } from "node:stream";
import readline from "node:readline";
import { CancelledError } from "../util/errors.ts";

export async function readAllStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export function stdinStream(): ReadableStream<Uint8Array> {
  return Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>;
}

/** Asks a question on the terminal; with `secret` the answer is not echoed. */
export function promptLine(question: string, secret = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (secret) {
      // Replace echoed characters with nothing while the answer is typed.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
        else if (s.includes("\n") || s.includes("\r")) process.stderr.write("\n");
      };
    }
    rl.on("SIGINT", () => { rl.close(); reject(new CancelledError("Interrupted")); });
    rl.question(question, (answer) => { rl.close(); resolve(answer); });
  });
}
