/**
 * Where export files live: one small interface, two drivers: a local directory (local.ts, the embedded
 * default, under the data dir) and S3-compatible object storage through Bun's S3Client (s3.ts: S3,
 * MinIO, R2). A file is written as a stream and becomes visible under its key only on commit(), so a
 * worker killed mid-file never leaves a half file where a download could find it.
 *
 * Keys: `<tenant>/<job>/<attempt>.<ext>` (storageKey): one attempt never overwrites another's file, and
 * removeJob() deletes every attempt of a job (what a killed attempt left behind included).
 */
import { Writable } from "node:stream";
import type { Config } from "../../config.ts";
import { createLocalStorage } from "./local.ts";

export interface ObjectUpload {
  /** the bytes go here (backpressure respected) */
  readonly stream: Writable;
  /** end the stream and publish the file under its key; resolves to its size in bytes */
  commit(): Promise<number>;
  /** drop what was written (the key stays absent); never throws */
  abort(): Promise<void>;
}

export interface StoredFile {
  size: number;
  body: ReadableStream<Uint8Array>;
}

export interface ExportStorage {
  readonly driver: "local" | "s3";
  create(key: string): Promise<ObjectUpload>;
  /** the file under key, or undefined when there is none */
  open(key: string): Promise<StoredFile | undefined>;
  /** delete one file (absent: fine) */
  remove(key: string): Promise<void>;
  /** delete every file of a job (every attempt) */
  removeJob(tenantId: string, jobId: string): Promise<void>;
  /** delete what other attempts of a job left (a killed worker's partial file), keeping `key` */
  removeOthers(tenantId: string, jobId: string, key: string): Promise<void>;
}

export function storageKey(tenantId: string, jobId: string, attempt: number, ext: string): string {
  return `${tenantId}/${jobId}/${attempt}.${ext}`;
}

export async function createExportStorage(cfg: Config["exports"]["storage"]): Promise<ExportStorage> {
  if (cfg.driver === "local") return createLocalStorage(cfg.dir);
  // dynamic so that non-Bun runtimes (Deno, without S3) never load the Bun-only module
  const { createS3Storage } = await import("./s3.ts");
  return createS3Storage(cfg.s3);
}

/** a Writable over an async sink (each write awaited: backpressure reaches the producer) */
export function sinkWritable(write: (chunk: Uint8Array) => Promise<unknown> | unknown): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _enc, cb) {
      try {
        Promise.resolve(write(chunk)).then(() => cb(), cb);
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** resolves when a Writable has finished (its writer ended it: the format writers pipe into it), or rejects with its error */
export function finished(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) return resolve();
    if (stream.destroyed) return reject(stream.errored ?? new Error("the upload stream was destroyed"));
    stream.once("finish", () => resolve());
    stream.once("error", reject);
  });
}
