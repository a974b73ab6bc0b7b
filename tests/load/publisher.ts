/**
 * The load test's publisher (a child process, so that its work is not the load driver's): publishes a
 * realistic mix of events (page and item views, carts, checkouts, orders) to JetStream at a steady
 * rate, in 100 ms ticks, until it gets SIGTERM or its duration ends; then prints one JSON line
 * {"published":…,"failed":…,"seconds":…,"late_ticks":…} and exits.
 *
 *   bun tests/load/publisher.ts --nats-url URL --prefix P --tenants T1,T2 --rate 1000 --duration 300
 */
import { parseArgs } from "node:util";
import { connect } from "nats";
import { cartItemAdded, checkoutStarted, type CloudEvent, itemViewed, orderCompleted, pageViewed } from "../helpers/events.ts";

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    "nats-url": { type: "string" },
    prefix: { type: "string" },
    tenants: { type: "string" },
    rate: { type: "string", default: "1000" },
    duration: { type: "string", default: "300" },
  },
  strict: true,
});

const tenants = (args.tenants ?? "").split(",").filter(Boolean);
const rate = Number(args.rate);
const durationS = Number(args.duration);
if (!args["nats-url"] || !args.prefix || tenants.length === 0 || !(rate > 0) || !(durationS > 0)) {
  throw new Error("--nats-url, --prefix, --tenants, a positive --rate and --duration are required");
}

let n = 0;
/** one event of a visit: mostly views, some carts and checkouts, 1 in 20 an order */
function nextEvent(): CloudEvent {
  n += 1;
  const tenant = tenants[n % tenants.length]!;
  const session = `load-s-${Math.floor(n / 5)}`;
  const item = `item-${n % 40}`;
  const time = { time: new Date(Date.now() - 1_000).toISOString() };
  switch (n % 20) {
    case 0:
      return orderCompleted(tenant, time, { session_id: session, customer_id: `c-${n % 500}` });
    case 1:
    case 2:
      return cartItemAdded(tenant, session, item, time);
    case 3:
      return checkoutStarted(tenant, session, time);
    case 4:
    case 5:
    case 6:
    case 7:
      return itemViewed(tenant, session, item, time);
    default:
      return pageViewed(tenant, time, { session_id: session });
  }
}

const nc = await connect({ servers: args["nats-url"], name: "pulse-load-publisher" });
const js = nc.jetstream();
const enc = new TextEncoder();
let published = 0;
let failed = 0;
let lateTicks = 0;
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});

const started = performance.now();
const perTick = rate / 10;
let tick = 0;
while (!stopping && performance.now() - started < durationS * 1000) {
  tick += 1;
  // events due by the end of this tick (fractional rates carry over)
  const due = Math.floor(tick * perTick) - Math.floor((tick - 1) * perTick);
  const acks = Array.from({ length: due }, () => {
    const e = nextEvent();
    return js.publish(`${args.prefix}.${e.tenantid}.${e.type}`, enc.encode(JSON.stringify(e)), { msgID: e.id }).then(
      () => void (published += 1),
      () => void (failed += 1),
    );
  });
  await Promise.all(acks);
  const wait = started + tick * 100 - performance.now();
  if (wait > 0) await Bun.sleep(wait);
  else lateTicks += 1;
}
await nc.drain();
await Bun.write(
  Bun.stdout,
  `${JSON.stringify({ published, failed, seconds: (performance.now() - started) / 1000, late_ticks: lateTicks })}\n`,
);
