/**
 * A client generated from the running service's /openapi.json with standard tools (openapi-typescript
 * types + openapi-fetch, tests/client/), type-checked with `tsc --strict` against the typed calls in
 * tests/client/calls.ts, then used against the real service: ingest, every analytics read, and a
 * problem+json error typed as the spec's Problem. A spec change that breaks generated clients (a
 * renamed operation, parameter or field, a changed type) fails the type check, and so CI.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { signToken } from "../../src/http/auth.ts";
import { TEST_JWT_SECRET } from "../helpers/deps.ts";
import { envelope, orderCompleted } from "../helpers/events.ts";
import { type RunningService, startService, waitFor } from "../helpers/service.ts";
import { tempDir } from "../helpers/tmp.ts";

const CLIENT_DIR = join(import.meta.dir, "../client");
const tenant = crypto.randomUUID();
let svc: RunningService;

// tests/client/ is its own package, type-checked by its own tsconfig (TypeScript 5) once the client is
// generated; the root typecheck cannot see the generated types, so both modules are loaded at run time
let calls: any;
let generated: { lines: number; typecheck: { exitCode: number; output: string } };

beforeAll(async () => {
  svc = await startService({
    EMBEDDED_DATA_DIR: join(tempDir("client"), "db"),
    JWT_SECRET: TEST_JWT_SECRET,
    JOBS_POLL_INTERVAL_MS: "600000",
  });
  const { res } = await waitFor(`${svc.url}/health/ready`, 200, 30_000);
  expect(res?.status, svc.output().slice(-2_000)).toBe(200);
  const spec = await (await fetch(`${svc.url}/openapi.json`)).json();
  const { generateClient } = await import(join(CLIENT_DIR, "generate.ts"));
  generated = await generateClient(spec);
  calls = await import(join(CLIENT_DIR, "calls.ts"));
}, 60_000);

afterAll(async () => {
  await svc?.stop("SIGKILL");
});

const bearer = (roles: Array<"ingest" | "viewer">) =>
  signToken(TEST_JWT_SECRET, { sub: "client-e2e", tenantId: tenant, roles, expiresIn: "10m" });

describe("the client generated from /openapi.json", () => {
  test("openapi-typescript generates it and tsc --strict accepts every typed call made through it", () => {
    expect(generated.lines).toBeGreaterThan(1_000);
    expect(generated.typecheck.output).toBe("");
    expect(generated.typecheck.exitCode).toBe(0);
  });

  test("ingests through the typed client and reads every analytics operation back, with hand-computed revenue", async () => {
    const publisher = calls.pulseClient(svc.url, await bearer(["ingest"]));
    const reader = calls.pulseClient(svc.url, await bearer(["viewer"]));
    const t = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    // two orders (6,500 and 1,000 EUR minor) and a refund of 700 of the second
    const events = [
      orderCompleted(tenant, { time: t(30) }, { order_id: "client-o1", customer_id: "client-c1" }),
      orderCompleted(
        tenant,
        { time: t(20) },
        {
          order_id: "client-o2",
          customer_id: "client-c2",
          lines: [{ item_id: "tee-1", quantity: 2, unit_price_minor: 500 }],
          discount_minor: 0,
          total_minor: 1_000,
        },
      ),
      envelope(
        tenant,
        "order.refunded",
        { order_id: "client-o2", refund_id: "client-r1", amount_minor: 700, currency: "EUR" },
        { time: t(10) },
      ),
    ];
    const ingested = await calls.ingest(publisher, events as never);
    expect(ingested).toEqual({ accepted: 3, duplicates: 0, rejected: [] });

    const range = {
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
      timezone: "Europe/Berlin",
    };
    const figures = await calls.everyAnalyticsRead(reader, range);
    expect(figures.getRevenueSummary).toEqual([{ currency: "EUR", gross: 7_500, refunds: 700, orders: 2 }]);
    expect(figures.getRevenueByChannel).toEqual(["web:6800"]);
    expect(figures.getRefundMetrics).toBe(1);
    expect(figures.getFulfillmentMetrics).toBe(2);
    expect(figures.getCustomerMetrics).toBe(2);
    expect(figures.getRealtimeMetrics).toBe(12);
    expect(figures.getConversionFunnel).toHaveLength(5);
    expect(figures.getMarketingAttribution).toBe(2);
    // every analytics read of the spec answered through the typed client
    expect(Object.keys(figures).sort()).toEqual(
      [
        "getChurnRisk",
        "getConversionFunnel",
        "getCustomerLtv",
        "getCustomerMetrics",
        "getFulfillmentMetrics",
        "getItemPerformance",
        "getMarketingAttribution",
        "getRealtimeMetrics",
        "getRefundMetrics",
        "getRevenueByCategory",
        "getRevenueByChannel",
        "getRevenueProjection",
        "getRevenueSummary",
        "getRevenueTimeseries",
        "getRfmSegments",
        "getSalesMetrics",
        "getShippingMetrics",
        "listCustomers",
      ].sort(),
    );
  }, 30_000);

  test("an invalid request comes back as a typed problem+json naming the field", async () => {
    const reader = calls.pulseClient(svc.url, await bearer(["viewer"]));
    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString(), timezone: "UTC" };
    const { status, problem } = await calls.invalidRange(reader, range);
    expect(status).toBe(400);
    expect(problem.status).toBe(400);
    expect(problem.errors?.map((e: { path: string }) => e.path)).toContain("from");
  });
});
