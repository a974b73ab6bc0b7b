/**
 * The embedded engine SIGKILLed during an ingest: the service (ROLE=all, its own engine and its own
 * nats-server) restarts the child and ingest resumes; at the end every published event is on disk
 * exactly once. FAULTS_EVENTS events (default the 100,000).
 *
 * BREAKER_HALF_OPEN_MS=5000 (default 30,000): the engine is back within about a second, and the
 * default would leave writes paused for 30 s of the suite's budget for nothing the count can show.
 */
import { afterAll, expect, test } from "bun:test";
import { orderCompleted, pageViewed } from "../helpers/events.ts";
import { type PrivateServer, startNatsServer } from "../helpers/servers.ts";
import { until } from "../helpers/nats.ts";
import {
  acceptedSoFar,
  countOnDisk,
  engineChildPid,
  KILL_EVENTS,
  natsClient,
  publishAll,
  ready,
  record,
  secondsUntil,
  startFaultService,
  stopServices,
  watchReadiness,
} from "./harness.ts";

let nats: PrivateServer | undefined;
afterAll(async () => {
  await stopServices();
  await nats?.close();
});

test(`the embedded engine SIGKILLed during an ingest of ${KILL_EVENTS} events: readiness 503 within 5 s and 200 again, 0 lost, 0 duplicated`, async () => {
  nats = await startNatsServer();
  const svc = await startFaultService({ role: "all", nats, env: { BREAKER_HALF_OPEN_MS: "5000" } });
  await ready(svc);
  const tenants = Array.from({ length: 4 }, () => crypto.randomUUID());
  const events = Array.from({ length: KILL_EVENTS }, (_, i) => {
    const t = tenants[i % tenants.length]!;
    const time = { time: new Date(Date.now() - 3_600_000 + (i % 3_000_000)).toISOString() };
    return i % 4 === 0 ? orderCompleted(t, time) : pageViewed(t, time);
  });

  const { nc, js } = await natsClient(nats);
  const watch = watchReadiness(svc);
  const started = performance.now();
  const publishing = publishAll(js, events);

  // kill the engine once about a third is stored (the rest is in flight or still in the stream)
  expect(await until(async () => ((await acceptedSoFar(svc, tenants)) ?? 0) >= KILL_EVENTS / 3, 120_000, 200)).toBe(true);
  const enginePid = engineChildPid(svc.proc.pid);
  expect(enginePid).not.toBeNull();
  const killedAt = performance.now();
  process.kill(enginePid!, "SIGKILL");

  const tally = await publishing;
  expect(tally.acked).toBe(KILL_EVENTS);
  expect(await until(async () => (await acceptedSoFar(svc, tenants)) === KILL_EVENTS, 240_000, 500)).toBe(true);
  const doneAt = performance.now();
  await Bun.sleep(1_000); // nothing more arrives late
  expect(await acceptedSoFar(svc, tenants)).toBe(KILL_EVENTS);
  await watch.stop();
  expect(await svc.stop("SIGTERM")).toBe(0);
  await nc.close();

  const to503 = secondsUntil(watch, killedAt, (s) => s.code === 503);
  const first503 = watch.first(killedAt, (s) => s.code === 503);
  const to200 = first503 ? secondsUntil(watch, first503.at, (s) => s.code === 200) : null;
  const disk = await countOnDisk(svc.dataDir, tenants);
  const restarts = (svc.output().match(/embedded TimescaleDB died; restarting/g) ?? []).length;
  record({
    scenario: `engine SIGKILL, ${KILL_EVENTS} events`,
    published: tally.acked,
    stored: disk.stored,
    duplicated: disk.stored - disk.distinct,
    lost: KILL_EVENTS - disk.distinct,
    deadLettered: disk.deadLettered,
    to503,
    to200: to200 === null || to503 === null ? null : to503 + to200,
    notes:
      `killed at ${((killedAt - started) / 1000).toFixed(1)} s, all stored at ${((doneAt - started) / 1000).toFixed(1)} s ` +
      `(${Math.round(KILL_EVENTS / ((doneAt - started) / 1000))} events/s overall); engine restarts ${restarts}; ` +
      `503 for ${to200?.toFixed(1)} s; redeliveries caught as duplicates ${disk.caughtDuplicates}; publish retries ${tally.retries}; ` +
      `"to 200" counted from the kill`,
  });

  expect(disk).toMatchObject({ stored: KILL_EVENTS, distinct: KILL_EVENTS, deadLettered: 0 });
  expect(restarts).toBeGreaterThanOrEqual(1);
  expect(to503).not.toBeNull();
  expect(to503!).toBeLessThan(5);
  expect(to200).not.toBeNull();
}, 420_000);
