/**
 * The local-directory driver (EXPORTS_DIR, default ./data/exports): a file is written as
 * `<key>.part` and renamed to `<key>` on commit (a rename within one directory is atomic).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { type ExportStorage, finished } from "./storage.ts";

export function createLocalStorage(dir: string): ExportStorage {
  const root = resolve(dir);
  const pathOf = (key: string) => {
    const p = resolve(root, key);
    if (!p.startsWith(root + sep)) throw new Error(`export key escapes the exports directory: ${key}`);
    return p;
  };
  return {
    driver: "local",
    async create(key) {
      const path = pathOf(key);
      const part = `${path}.part`;
      await mkdir(dirname(path), { recursive: true });
      const stream = createWriteStream(part);
      return {
        stream,
        async commit() {
          await finished(stream);
          await rename(part, path);
          return (await stat(path)).size;
        },
        async abort() {
          stream.destroy();
          await rm(part, { force: true }).catch(() => undefined);
        },
      };
    },
    async open(key) {
      const path = pathOf(key);
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) return undefined;
      // node:fs, not Bun.file: downloads are in the request path, which must also run under Deno
      return { size: s.size, body: Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array> };
    },
    async remove(key) {
      await rm(pathOf(key), { force: true });
    },
    async removeJob(tenantId, jobId) {
      await rm(join(pathOf(tenantId), jobId), { recursive: true, force: true });
    },
    async removeOthers(tenantId, jobId, key) {
      const dir = join(pathOf(tenantId), jobId);
      const keep = basename(pathOf(key));
      for (const f of await readdir(dir).catch(() => [] as string[])) if (f !== keep) await rm(join(dir, f), { force: true });
    },
  };
}
