/**
 * A real S3-compatible server for tests: s3rver (an npm package) on 127.0.0.1 with a free port
 * and a temporary directory, buckets created up front. s3rver checks the access key id
 * (`S3RVER`) but not SigV4 signatures, and ignores `If-Match`, which is why kit checks the
 * response's ETag itself. Objects are put with aws4fetch's client. Stop it with `stop()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AwsClient } from "aws4fetch";
import S3rver from "s3rver";

export interface TestS3 {
  /** `http://127.0.0.1:<port>`: the value of S3_API_ENDPOINT. */
  endpoint: string;
  port: number;
  /** Environment for kit: endpoint, region and the server's credentials. */
  env: Record<string, string>;
  /** Stores an object; returns its ETag without quotes. */
  put(bucket: string, key: string, body: string | Uint8Array): Promise<string>;
  stop(): Promise<void>;
}

export const S3_ACCESS_KEY = "S3RVER";
export const S3_SECRET = "S3RVER";

export async function startS3(buckets: string[]): Promise<TestS3> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kit-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    directory: dir,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new AwsClient({ accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET, region: "us-east-1", service: "s3" });
  return {
    endpoint,
    port,
    env: { S3_API_ENDPOINT: endpoint, S3_REGION: "us-east-1", S3_ACCESS_KEY_ID: S3_ACCESS_KEY, S3_SECRET_KEY: S3_SECRET },
    async put(bucket, key, body) {
      const r = await client.fetch(`${endpoint}/${bucket}/${key}`, { method: "PUT", body: body as BodyInit });
      if (r.status !== 200) throw new Error(`PUT ${bucket}/${key}: ${r.status} ${await r.text()}`);
      return r.headers.get("etag")!.replace(/"/g, "");
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
