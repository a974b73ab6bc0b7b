/**
 * Secrets and PII never logged. This file scans every line the test logger captured in this process
 * so far (tests/helpers/deps.ts `capturedLogs`), after driving requests of its own that carry tokens,
 * emails and IPs, so it has something to scan when run alone. bun runs the files of a directory in
 * directory order, not by name, so the scan of the WHOLE run is the preload's afterAll
 * (tests/helpers/preload.ts → scanLogs), which fails the run on any finding.
 */
import { describe, expect, test } from "bun:test";
import { capturedLogs, mintedTokens, testApp, token } from "../helpers/deps.ts";
import { customerRegistered, orderCompleted, pageViewed } from "../helpers/events.ts";
import { scanLogs } from "../helpers/log-scan.ts";

describe("secrets and PII in the logs of the test run", () => {
  test("the logs hold no bearer token, no JWT, no email address and no client IP", async () => {
    const { app } = await testApp();
    const t = crypto.randomUUID();
    const auth = `Bearer ${await token({ tenantId: t, roles: ["ingest", "viewer", "ops"], sub: "log-scan" })}`;
    // requests that log: ingest with contact data, a rejected event, an unauthenticated call, a 404, a cross-tenant read
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/cloudevents-batch+json", "x-forwarded-for": "203.0.113.77" },
      body: JSON.stringify([
        orderCompleted(t),
        pageViewed(t),
        customerRegistered(t, "c-log"),
        { ...orderCompleted(t), data: { email: "alice@example.com", ip: "203.0.113.77" } },
      ]),
    });
    expect(res.status).toBe(202);
    await app.request("/v1/me", { headers: { authorization: `${auth}x` } });
    await app.request("/v1/nope?email=alice@example.com", { headers: { authorization: auth } });
    await app.request("/v1/admin/dead-letters", { headers: { authorization: auth } });

    expect(capturedLogs.length).toBeGreaterThan(10);
    const found = scanLogs(capturedLogs, mintedTokens);
    expect(found).toEqual([]);
    expect(mintedTokens.length).toBeGreaterThan(0);
  });
});
