/**
 * A duplicate storm: a publisher that re-sends everything it published in the last minute, twice
 * over: once with the same Nats-Msg-Id (JetStream's duplicate window drops each: a duplicate ack) and
 * once with a new Nats-Msg-Id (as a publisher that lost its ids would: JetStream keeps them and the
 * pipeline must catch each one: the dedup LRU or the table's unique key). Every event stored once,
 * every re-send counted as a duplicate, nothing dead-lettered, readiness 200 throughout.
 */
import { afterAll, expect, test } from "bun:test";
import { orderCompleted, pageViewed } from "../helpers/events.ts";
import { until } from "../helpers/nats.ts";
import { type PrivateServer, startNatsServer } from "../helpers/servers.ts";
import {
  acceptedSoFar,
  countOnDisk,
  natsClient,
  publishAll,
  ready,
  record,
  startFaultService,
  stopServices,
  watchReadiness,
} from "./harness.ts";

const EVENTS = 10_000;

let nats: PrivateServer | undefined;
afterAll(async () => {
  await stopServices();
  await nats?.close();
});

test("a publisher re-sends the last minute twice (same and new Nats-Msg-Id): every event stored once, every re-send caught", async () => {
  nats = await startNatsServer();
  const svc = await startFaultService({ role: "all", nats });
  await ready(svc);
  const tenants = [crypto.randomUUID(), crypto.randomUUID()];
  const events = Array.from({ length: EVENTS }, (_, i) => (i % 4 === 0 ? orderCompleted(tenants[i % 2]!) : pageViewed(tenants[i % 2]!)));
  const { nc, js } = await natsClient(nats);
  const watch = watchReadiness(svc);
  const began = performance.now();

  const first = await publishAll(js, events);
  expect(first).toMatchObject({ acked: EVENTS, duplicateAcks: 0 });
  const publishedIn = (performance.now() - began) / 1000;
  expect(publishedIn).toBeLessThan(60); // "the last minute" is all of it
  // the storm, while the worker is still on the originals
  const sameIds = await publishAll(js, events);
  let n = 0;
  const newIds = await publishAll(js, events, { msgId: () => `storm-${++n}-${crypto.randomUUID()}` });
  expect(sameIds.duplicateAcks).toBe(EVENTS);
  expect(newIds.duplicateAcks).toBe(0);

  expect(await until(async () => (await acceptedSoFar(svc, tenants)) === EVENTS, 120_000, 500)).toBe(true);
  // wait until every re-send with a new id has been handled (counted as a duplicate)
  const duplicatesSoFar = async () => {
    const m = await (await fetch(`${svc.url}/metrics`)).text();
    return Number(/pulse_ingest_events_total\{transport="nats",outcome="duplicate"\} (\d+)/.exec(m)?.[1] ?? 0);
  };
  expect(await until(async () => (await duplicatesSoFar()) >= EVENTS, 120_000, 500)).toBe(true);
  const doneAt = performance.now();
  await Bun.sleep(1_000);
  expect(await acceptedSoFar(svc, tenants)).toBe(EVENTS);
  await watch.stop();
  expect(await svc.stop("SIGTERM")).toBe(0);
  await nc.close();
  const disk = await countOnDisk(svc.dataDir, tenants);
  const not200 = watch.samples.filter((s) => s.code !== 200).length;

  record({
    scenario: "duplicate storm (2 x re-send)",
    published: EVENTS,
    stored: disk.stored,
    duplicated: disk.stored - disk.distinct,
    lost: EVENTS - disk.distinct,
    deadLettered: disk.deadLettered,
    to503: not200 === 0 ? null : undefined,
    notes:
      `${EVENTS} originals, ${EVENTS} re-sent with the same Nats-Msg-Id (${sameIds.duplicateAcks} dropped by JetStream's duplicate window), ` +
      `${EVENTS} with new ids (${disk.caughtDuplicates} caught by the pipeline as duplicates); ` +
      `all handled in ${((doneAt - began) / 1000).toFixed(1)} s; ` +
      `readiness ${watch.samples.length - not200}/${watch.samples.length} answers 200`,
  });
  expect(disk).toMatchObject({ stored: EVENTS, distinct: EVENTS, deadLettered: 0, caughtDuplicates: EVENTS });
  expect(not200).toBe(0);
}, 300_000);
