/**
 * The service process SIGKILLed during an ingest and started again on the same data dir: its engine
 * child goes with it (it exits when its stdin closes), the data-dir lock of the dead process goes
 * stale (proper-lockfile, ~10 s: until then a new process refuses the dir and exits 1, as a
 * Kubernetes restart would see), and the batches it had fetched but not acked are redelivered by
 * JetStream after NATS_ACK_WAIT_MS (5 s here; 30 s by default). Every event is stored once.
 */
import { afterAll, expect, test } from "bun:test";
import { orderCompleted, pageViewed } from "../helpers/events.ts";
import { until } from "../helpers/nats.ts";
import { type PrivateServer, startNatsServer } from "../helpers/servers.ts";
import {
  acceptedSoFar,
  countOnDisk,
  engineChildPid,
  type FaultService,
  natsClient,
  publishAll,
  record,
  ready,
  ServiceDidNotStart,
  startFaultService,
  stopServices,
} from "./harness.ts";

const EVENTS = 20_000;

let nats: PrivateServer | undefined;
afterAll(async () => {
  await stopServices();
  await nats?.close();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("the service SIGKILLed during ingest and started again: ready again, 0 lost, 0 duplicated", async () => {
  nats = await startNatsServer();
  const env = { NATS_ACK_WAIT_MS: "5000" };
  let svc: FaultService = await startFaultService({ role: "all", nats, env });
  await ready(svc);
  const tenants = [crypto.randomUUID(), crypto.randomUUID()];
  const events = Array.from({ length: EVENTS }, (_, i) => (i % 4 === 0 ? orderCompleted(tenants[i % 2]!) : pageViewed(tenants[i % 2]!)));
  const { nc, js } = await natsClient(nats);
  const tally = await publishAll(js, events);
  expect(tally.acked).toBe(EVENTS);

  expect(await until(async () => ((await acceptedSoFar(svc, tenants)) ?? 0) >= EVENTS / 3, 120_000, 200)).toBe(true);
  const storedAtKill = (await acceptedSoFar(svc, tenants)) ?? 0;
  const engine = engineChildPid(svc.proc.pid);
  expect(engine).not.toBeNull();
  const killedAt = performance.now();
  svc.proc.kill("SIGKILL");
  await svc.proc.exited;
  // the engine child follows its parent (stdin closed)
  expect(await until(async () => !alive(engine!), 10_000, 50)).toBe(true);

  // start again until the dead process's lock is stale (each refused start exits 1)
  let attempts = 0;
  const dataDir = svc.dataDir;
  for (;;) {
    attempts += 1;
    try {
      svc = await startFaultService({ role: "all", nats, env, dataDir });
      break;
    } catch (err) {
      if (!(err instanceof ServiceDidNotStart)) throw err;
      expect(err.output).toContain("is in use by another Pulse process");
      expect(attempts).toBeLessThan(60);
      await Bun.sleep(500);
    }
  }
  await ready(svc);
  const readyAt = performance.now();
  expect(await until(async () => (await acceptedSoFar(svc, tenants)) === EVENTS, 120_000, 500)).toBe(true);
  const doneAt = performance.now();
  await Bun.sleep(1_000);
  expect(await acceptedSoFar(svc, tenants)).toBe(EVENTS);
  expect(await svc.stop("SIGTERM")).toBe(0);
  await nc.close();
  const disk = await countOnDisk(svc.dataDir, tenants);

  record({
    scenario: "service SIGKILL + restart",
    published: tally.acked,
    stored: disk.stored,
    duplicated: disk.stored - disk.distinct,
    lost: EVENTS - disk.distinct,
    deadLettered: disk.deadLettered,
    to200: (readyAt - killedAt) / 1000,
    notes:
      `killed with ${storedAtKill} stored; no answer while dead (no 503: the process is gone); ` +
      `ready again ${((readyAt - killedAt) / 1000).toFixed(1)} s after the kill (${attempts - 1} starts refused until the data-dir lock went stale); ` +
      `all stored ${((doneAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
      `redeliveries caught as duplicates ${disk.caughtDuplicates}`,
  });
  expect(disk).toMatchObject({ stored: EVENTS, distinct: EVENTS, deadLettered: 0 });
}, 300_000);
