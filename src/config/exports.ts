/**
 * Exports (src/exports/): where files are stored (a local directory or S3-compatible storage), how long
 * they live, limits per tenant, the worker's lease and polling, the expiry sweep.
 */
import { z } from "zod";
import { int, optionalString, section } from "./section.ts";

export type ExportsStorageDriver = "local" | "s3";

export const exportsSection = section({
  vars: {
    EXPORT_TTL_HOURS: int(1, 8_760).default(24),
    EXPORT_PDF_MAX_ROWS: int(1, 100_000).default(5_000),
    EXPORTS_STORAGE: z.enum(["local", "s3"]).default("local"),
    EXPORTS_DIR: z.string().min(1).default("./data/exports"),
    EXPORTS_S3_BUCKET: optionalString,
    EXPORTS_S3_ENDPOINT: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    EXPORTS_S3_REGION: optionalString,
    EXPORTS_S3_ACCESS_KEY_ID: optionalString,
    EXPORTS_S3_SECRET_ACCESS_KEY: optionalString,
    EXPORTS_S3_PREFIX: optionalString.pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9._/-]{1,200}$/, "letters, digits, . _ - and /")
        .optional(),
    ),
    EXPORT_MAX_ACTIVE_JOBS_PER_TENANT: int(1, 1_000).default(3),
    EXPORT_MAX_STORED_MB_PER_TENANT: int(1, 1_048_576).default(1_024),
    EXPORT_LEASE_SECONDS: int(2, 3_600).default(30),
    EXPORT_MAX_ATTEMPTS: int(1, 100).default(3),
    EXPORT_POLL_INTERVAL_MS: int(50, 600_000).default(1_000),
    EXPORT_SWEEP_INTERVAL_MS: int(1_000, 86_400_000).default(60_000),
  },
  read: (e) => ({
    exports: {
      ttlHours: e.EXPORT_TTL_HOURS,
      pdfMaxRows: e.EXPORT_PDF_MAX_ROWS,
      storage: {
        driver: e.EXPORTS_STORAGE as ExportsStorageDriver,
        dir: e.EXPORTS_DIR,
        s3: {
          bucket: e.EXPORTS_S3_BUCKET,
          endpoint: e.EXPORTS_S3_ENDPOINT,
          region: e.EXPORTS_S3_REGION,
          accessKeyId: e.EXPORTS_S3_ACCESS_KEY_ID,
          secretAccessKey: e.EXPORTS_S3_SECRET_ACCESS_KEY,
          prefix: e.EXPORTS_S3_PREFIX,
        },
      },
      maxActiveJobsPerTenant: e.EXPORT_MAX_ACTIVE_JOBS_PER_TENANT,
      maxStoredBytesPerTenant: e.EXPORT_MAX_STORED_MB_PER_TENANT * 1024 * 1024,
      leaseSeconds: e.EXPORT_LEASE_SECONDS,
      maxAttempts: e.EXPORT_MAX_ATTEMPTS,
      pollIntervalMs: e.EXPORT_POLL_INTERVAL_MS,
      sweepIntervalMs: e.EXPORT_SWEEP_INTERVAL_MS,
    },
  }),
  check: (e, _base, ctx) => {
    if (e.EXPORTS_STORAGE === "s3" && !e.EXPORTS_S3_BUCKET) {
      ctx.addIssue({ code: "custom", path: ["EXPORTS_S3_BUCKET"], message: "required when EXPORTS_STORAGE is s3" });
    }
    if (Boolean(e.EXPORTS_S3_ACCESS_KEY_ID) !== Boolean(e.EXPORTS_S3_SECRET_ACCESS_KEY)) {
      const missing = e.EXPORTS_S3_ACCESS_KEY_ID ? "EXPORTS_S3_SECRET_ACCESS_KEY" : "EXPORTS_S3_ACCESS_KEY_ID";
      ctx.addIssue({ code: "custom", path: [missing], message: "EXPORTS_S3_ACCESS_KEY_ID and EXPORTS_S3_SECRET_ACCESS_KEY go together" });
    }
  },
});
