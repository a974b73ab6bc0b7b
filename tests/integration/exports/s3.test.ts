/**
 * The S3 driver (Bun's S3Client) against a real S3-compatible server started here: s3rver (the S3
 * REST protocol over HTTP on a loopback port, objects in a temp dir). An export is written as a
 * multipart upload, downloaded through the API, and deleted by DELETE and by the expiry sweep.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { S3Client } from "bun";
import S3rver from "s3rver";
import type { Deps } from "../../../src/deps.ts";
import { createExportStorage, type ExportStorage } from "../../../src/exports/storage/storage.ts";
import { ExportSweep } from "../../../src/exports/sweep.ts";
import type { ExportWorker } from "../../../src/exports/worker.ts";
import { testConfig } from "../../helpers/deps.ts";
import { tempDir } from "../../helpers/tmp.ts";
import { type App, call, exportFile, exportsApp, parseCsv } from "./helpers.ts";

let server: S3rver;
let endpoint: string;
let storage: ExportStorage;
let client: S3Client;
let app: App;
let deps: Deps;
let worker: ExportWorker;
const BUCKET = "pulse-exports";
const PREFIX = "test-prefix";

const env = () => ({
  EXPORTS_STORAGE: "s3",
  EXPORTS_S3_BUCKET: BUCKET,
  EXPORTS_S3_ENDPOINT: endpoint,
  EXPORTS_S3_REGION: "us-east-1",
  EXPORTS_S3_ACCESS_KEY_ID: "S3RVER",
  EXPORTS_S3_SECRET_ACCESS_KEY: "S3RVER",
  EXPORTS_S3_PREFIX: PREFIX,
});

async function keys(prefix = ""): Promise<string[]> {
  const listed = await client.list({ prefix: `${PREFIX}/${prefix}` });
  return (listed.contents ?? []).map((o) => o.key).sort();
}

beforeAll(async () => {
  server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: tempDir("s3rver"),
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const addr = await server.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
  storage = await createExportStorage(testConfig(env()).exports.storage);
  client = new S3Client({ bucket: BUCKET, endpoint, accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });
  ({ app, deps, worker } = await exportsApp(env(), storage));
});

afterAll(async () => {
  await server?.close();
});

describe("S3 storage driver (s3rver)", () => {
  test("a file is visible only after commit; an aborted one leaves nothing; open of a missing key is undefined", async () => {
    expect(storage.driver).toBe("s3");
    const up = await storage.create("t/j/1.csv");
    // 9 MB in 64 KB chunks: more than one 8 MB part
    const chunk = Buffer.alloc(64 * 1024, "a");
    for (let i = 0; i < 144; i++) if (!up.stream.write(chunk)) await new Promise((r) => up.stream.once("drain", r));
    expect(await keys("t/j/")).toEqual([]);
    up.stream.end();
    expect(await up.commit()).toBe(144 * 64 * 1024);
    expect(await keys("t/j/")).toEqual([`${PREFIX}/t/j/1.csv`]);
    const file = await storage.open("t/j/1.csv");
    expect(file?.size).toBe(144 * 64 * 1024);
    expect((await new Response(file!.body).arrayBuffer()).byteLength).toBe(144 * 64 * 1024);

    const aborted = await storage.create("t/j/2.csv");
    aborted.stream.write("partial");
    await aborted.abort();
    expect(await keys("t/j/")).toEqual([`${PREFIX}/t/j/1.csv`]);
    expect(await storage.open("t/j/missing.csv")).toBeUndefined();
    await storage.removeJob("t", "j");
    expect(await keys("t/")).toEqual([]);
  }, 30_000);

  test("an export end to end: written to the bucket, downloaded through the API, deleted by DELETE and by expiry", async () => {
    const T = crypto.randomUUID();
    const { bytes, job } = await exportFile({ app, worker }, T, "getChurnRisk", {}, "csv");
    expect(parseCsv(bytes)).toEqual([
      ["high", "medium", "low"],
      ["0", "0", "0"],
    ]);
    expect(await keys(`${T}/`)).toEqual([`${PREFIX}/${T}/${job.id}/1.csv`]);
    expect((await call(app, T, `/v1/exports/${job.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await keys(`${T}/`)).toEqual([]);

    const second = (await exportFile({ app, worker }, T, "getChurnRisk", {}, "xlsx")).job;
    expect(await keys(`${T}/`)).toEqual([`${PREFIX}/${T}/${second.id}/1.xlsx`]);
    await deps.sql`update export_jobs set expires_at = now() - interval '1 second' where id = ${second.id}`;
    await new ExportSweep(deps).tick();
    expect(await keys(`${T}/`)).toEqual([]);
    expect((await call(app, T, `/v1/exports/${second.id}/download`)).status).toBe(410);
  }, 30_000);
});
