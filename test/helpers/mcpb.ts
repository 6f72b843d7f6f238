/** Builds small MCP bundles (.mcpb = a ZIP with manifest.json at its root) for tests. */
import { BlobReader, Uint8ArrayWriter, ZipWriter, configure } from "@zip.js/zip.js";

export async function makeMcpBundle(files: Record<string, string>): Promise<Uint8Array> {
  configure({ useWebWorkers: false });
  const zip = new ZipWriter(new Uint8ArrayWriter());
  for (const [name, content] of Object.entries(files)) await zip.add(name, new BlobReader(new Blob([content])));
  return zip.close();
}
