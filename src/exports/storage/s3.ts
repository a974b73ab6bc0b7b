/**
 * The S3-compatible driver (EXPORTS_STORAGE=s3; S3, MinIO, R2) on Bun's built-in S3Client. A file is
 * a multipart upload that completes on commit, so nothing is visible under its key before. An upload
 * abandoned by a killed worker stays an incomplete multipart upload: give the bucket a lifecycle rule
 * that aborts those after a day (docs/exports.md).
 */
import { S3Client } from "bun";
import type { Config } from "../../config.ts";
import { type ExportStorage, sinkWritable, finished } from "./storage.ts";

const PART_SIZE = 8 * 1024 * 1024;

export function createS3Storage(cfg: Config["exports"]["storage"]["s3"]): ExportStorage {
  const client = new S3Client({
    bucket: cfg.bucket,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.accessKeyId ? { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } : {}),
  });
  const prefix = cfg.prefix ? `${cfg.prefix.replace(/\/+$/, "")}/` : "";
  const full = (key: string) => `${prefix}${key}`;
  return {
    driver: "s3",
    async create(key) {
      const writer = client.file(full(key)).writer({ partSize: PART_SIZE, retry: 3 });
      let bytes = 0;
      const stream = sinkWritable(async (chunk) => {
        bytes += chunk.byteLength;
        await writer.write(chunk);
      });
      let ended = false;
      return {
        stream,
        async commit() {
          await finished(stream);
          ended = true;
          await writer.end();
          return bytes;
        },
        async abort() {
          stream.destroy();
          if (!ended) {
            ended = true;
            // completing and deleting is the one way Bun's writer offers to release the upload
            await Promise.resolve(writer.end()).catch(() => undefined);
          }
          await client.delete(full(key)).catch(() => undefined);
        },
      };
    },
    async open(key) {
      const file = client.file(full(key));
      let size: number;
      try {
        size = (await file.stat()).size;
      } catch (err) {
        if ((err as { code?: string }).code === "NoSuchKey" || /not ?found|NoSuchKey|404/i.test(String((err as Error).message)))
          return undefined;
        throw err;
      }
      return { size, body: file.stream() };
    },
    async remove(key) {
      await client.delete(full(key));
    },
    async removeJob(tenantId, jobId) {
      const listed = await client.list({ prefix: full(`${tenantId}/${jobId}/`) });
      for (const o of listed.contents ?? []) await client.delete(o.key);
    },
    async removeOthers(tenantId, jobId, key) {
      const listed = await client.list({ prefix: full(`${tenantId}/${jobId}/`) });
      for (const o of listed.contents ?? []) if (o.key !== full(key)) await client.delete(o.key);
    },
  };
}
