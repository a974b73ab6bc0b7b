/**
 * NATS stopped for 10 s during an ingest and started again with the same JetStream store, with a
 * worker and an api process (each on its own embedded engine) connected to it: readiness per role.
 * The worker must turn 503 (goal < 5 s) and back to 200 once NATS is back; the api must stay 200
 * (`degraded`, with the reason) the whole time and keep answering reads and HTTP ingest, and a second
 * api started during the outage must become ready (degraded) and connect once NATS is back. Every event the publisher
 * got an ack for is stored once (the publisher retries each event until JetStream acks it, with the
 * same Nats-Msg-Id: a retry of a publish that had landed is dropped by the duplicate window).
 */
import { afterAll, expect, test } from "bun:test";
import { token } from "../helpers/deps.ts";
import { envelope, orderCompleted, pageViewed } from "../helpers/events.ts";
import { until } from "../helpers/nats.ts";
import { type PrivateServer, startNatsServer } from "../helpers/servers.ts";
import {
  acceptedSoFar,
  countOnDisk,
  natsClient,
  publishAll,
  ready,
  record,
  secondsUntil,
  startFaultService,
  stopServices,
  watchReadiness,
} from "./harness.ts";

const EVENTS = 20_000;
const OUTAGE_MS = 10_000;

let nats: PrivateServer | undefined;
afterAll(async () => {
  await stopServices();
  await nats?.close();
});

test("NATS stopped 10 s during ingest: the worker is 503 and back, the api stays ready (degraded) and answers reads, 0 lost, 0 duplicated", async () => {
  nats = await startNatsServer();
  const worker = await startFaultService({ role: "worker", nats });
  const api = await startFaultService({ role: "api", nats });
  await Promise.all([ready(worker), ready(api)]);

  const tenants = [crypto.randomUUID(), crypto.randomUUID()];
  const events = Array.from({ length: EVENTS }, (_, i) => (i % 4 === 0 ? orderCompleted(tenants[i % 2]!) : pageViewed(tenants[i % 2]!)));
  const { nc, js } = await natsClient(nats);
  const workerReady = watchReadiness(worker);
  const apiReady = watchReadiness(api);

  // a reader on the api all along (the data is the worker's, so its answers are empty: it is the
  // answering that counts here)
  const auth = { authorization: `Bearer ${await token({ tenantId: tenants[0], roles: ["viewer"], expiresIn: "10m" })}` };
  const range = `from=${new Date(Date.now() - 86_400_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
  const reads: Array<{ at: number; status: number }> = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const at = performance.now();
      const status = await fetch(`${api.url}/v1/revenue/summary?${range}`, { headers: auth, signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status,
        () => 0,
      );
      reads.push({ at, status });
      await Bun.sleep(50);
    }
  })();

  // about 2,000 events/s: the outage starts a few seconds in, in the middle of the ingest
  const paced = (async () => {
    const tally = { acked: 0, retries: 0, duplicateAcks: 0 };
    for (let i = 0; i < events.length; i += 200) {
      const t = await publishAll(js, events.slice(i, i + 200));
      tally.acked += t.acked;
      tally.retries += t.retries;
      tally.duplicateAcks += t.duplicateAcks;
      await Bun.sleep(100);
    }
    return tally;
  })();
  const began = performance.now();
  await Bun.sleep(3_000);
  const storedBefore = (await acceptedSoFar(worker, tenants)) ?? 0;
  const stoppedAt = performance.now();
  await nats.stop();

  // during the outage: HTTP ingest on the api (one event of each batch a dead letter, whose copy to
  // NATS cannot be made), and a second api started while NATS does not answer
  const ingestToken = await token({ tenantId: tenants[1], roles: ["ingest"], expiresIn: "10m" });
  const ingestAuth = { authorization: `Bearer ${ingestToken}`, "content-type": "application/json" };
  const posts: Array<{ ms: number; status: number; accepted?: number; rejected?: number }> = [];
  const poster = (async () => {
    while (performance.now() - stoppedAt < OUTAGE_MS - 1_000) {
      const batch = [pageViewed(tenants[1]!), orderCompleted(tenants[1]!), envelope(tenants[1]!, "no.such.type", {})];
      const at = performance.now();
      const body = JSON.stringify(batch);
      const res = await fetch(`${api.url}/v1/events`, {
        method: "POST",
        headers: ingestAuth,
        body,
        signal: AbortSignal.timeout(15_000),
      }).catch(() => undefined);
      const answer = res?.status === 202 ? ((await res.json()) as { accepted: number; rejected: unknown[] }) : undefined;
      posts.push({ ms: performance.now() - at, status: res?.status ?? 0, accepted: answer?.accepted, rejected: answer?.rejected.length });
      await Bun.sleep(500);
    }
  })();
  const lateApi = startFaultService({ role: "api", nats }).then(async (svc) => {
    await ready(svc, 30_000);
    const body = (await (await fetch(`${svc.url}/health/ready`)).json()) as { status: string; checks: { nats?: { error?: string } } };
    return { svc, readyAt: performance.now(), body };
  });
  await Bun.sleep(OUTAGE_MS);
  const startedAt = performance.now();
  await nats.start();
  await poster;
  const late = await lateApi;
  // the late api connects once NATS answers
  const natsUp = async (url: string) => {
    const body = (await (await fetch(`${url}/health/ready`)).json()) as { checks: { nats?: { status: string } } };
    return body.checks.nats?.status === "up";
  };
  const lateConnected = await until(() => natsUp(late.svc.url), 15_000, 100);

  const tally = await paced;
  expect(tally.acked).toBe(EVENTS);
  expect(await until(async () => (await acceptedSoFar(worker, tenants)) === EVENTS, 120_000, 500)).toBe(true);
  const doneAt = performance.now();
  await Bun.sleep(1_000);
  expect(await acceptedSoFar(worker, tenants)).toBe(EVENTS);
  reading = false;
  await reader;
  await Promise.all([workerReady.stop(), apiReady.stop()]);
  await nc.close();
  expect(await worker.stop("SIGTERM")).toBe(0);
  expect(await api.stop("SIGTERM")).toBe(0);
  expect(await late.svc.stop("SIGTERM")).toBe(0);
  const disk = await countOnDisk(worker.dataDir, tenants);

  const workerTo503 = secondsUntil(workerReady, stoppedAt, (s) => s.code === 503);
  const workerTo200 = secondsUntil(workerReady, startedAt, (s) => s.code === 200);
  const apiDuring = apiReady.between(stoppedAt, startedAt);
  const apiDegraded = secondsUntil(apiReady, stoppedAt, (s) => s.status === "degraded");
  const apiBackOk = secondsUntil(apiReady, startedAt, (s) => s.code === 200 && !(s.reasons ?? []).some((r) => r.startsWith("nats")));
  const readsDuring = reads.filter((r) => r.at >= stoppedAt && r.at < startedAt);
  const answered = readsDuring.filter((r) => r.status === 200).length;
  const reason = apiDuring.find((s) => s.status === "degraded")?.reasons?.find((r) => r.startsWith("nats"));

  record({
    scenario: "NATS down 10 s (worker)",
    published: tally.acked,
    stored: disk.stored,
    duplicated: disk.stored - disk.distinct,
    lost: EVENTS - disk.distinct,
    deadLettered: disk.deadLettered,
    to503: workerTo503,
    to200: workerTo200,
    notes:
      `${storedBefore} stored before the stop; all ${EVENTS} at ${((doneAt - began) / 1000).toFixed(1)} s; publish retries ${tally.retries}, ` +
      `duplicate acks ${tally.duplicateAcks}; redeliveries caught as duplicates ${disk.caughtDuplicates}; "to 200" counted from NATS's start`,
  });
  record({
    scenario: "NATS down 10 s (api)",
    to503: apiReady.between(stoppedAt, doneAt).some((s) => s.code === 503)
      ? secondsUntil(apiReady, stoppedAt, (s) => s.code === 503)
      : null,
    to200: apiBackOk,
    reads: `${answered}/${readsDuring.length} (${readsDuring.length ? ((100 * answered) / readsDuring.length).toFixed(0) : "-"} %)`,
    notes: [
      `degraded ${apiDegraded?.toFixed(1)} s after the stop,`,
      `${apiDuring.filter((s) => s.code === 200).length}/${apiDuring.length} readiness answers 200 during it; reason "${reason}";`,
      `"to 200" = nats check up again after the start;`,
      `HTTP ingest during the outage: ${posts.filter((p) => p.status === 202).length}/${posts.length} batches 202,`,
      `slowest ${Math.max(...posts.map((p) => p.ms)).toFixed(0)} ms;`,
      `an api started during the outage was ready ${((late.readyAt - stoppedAt) / 1000).toFixed(1)} s after the stop`,
      `(NATS "${late.body.checks.nats?.error?.slice(0, 40)}…") and connected after NATS's start: ${lateConnected}`,
    ].join(" "),
  });

  expect(disk).toMatchObject({ stored: EVENTS, distinct: EVENTS, deadLettered: 0 });
  // the worker: 503 within 5 s, ready again once NATS is back
  expect(workerTo503).not.toBeNull();
  expect(workerTo503!).toBeLessThan(5);
  expect(workerTo200).not.toBeNull();
  // the api: never 503, degraded with NATS named, every read answered
  expect(apiDuring.length).toBeGreaterThan(10);
  expect(apiDuring.every((s) => s.code === 200)).toBe(true);
  expect(apiDegraded).not.toBeNull();
  expect(reason).toContain("nats (optional for api)");
  expect(readsDuring.length).toBeGreaterThan(10);
  expect(answered).toBe(readsDuring.length);
  // HTTP ingest on the api: every batch answered 202 (2 accepted, 1 dead-lettered) without waiting on NATS
  expect(posts.length).toBeGreaterThan(3);
  expect(posts.every((p) => p.status === 202 && p.accepted === 2 && p.rejected === 1)).toBe(true);
  expect(Math.max(...posts.map((p) => p.ms))).toBeLessThan(2_000); // a wait on NATS is its 5 s ack timeout
  // an api started while NATS was down: ready (degraded, NATS named) before NATS came back, connected after
  expect(late.readyAt).toBeLessThan(startedAt);
  expect(late.body.status).toBe("degraded");
  expect(late.body.checks.nats?.error).toMatch(/^not connected since/);
  expect(lateConnected).toBe(true);
}, 300_000);
