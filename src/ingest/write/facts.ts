/**
 * What the batch statement (write.queries.ts) can be told instead of working out itself: the running
 * newest time within the batch, each (tenant, source)'s newest time, each tenant's row count, the order
 * lines and the rows of items and customers. Pure; one pass over the batch.
 */
import type { EventRow } from "../types.ts";
import { orderLines } from "./lines.ts";

/** a batch's facts that need no database, as rows of the statement's JSON inputs (times as ISO text) */
export interface BatchFacts {
  /** per row: the newest time of an earlier row of the batch from the same (tenant, source), or null */
  newestBefore: Array<string | null>;
  /** per (tenant, source): the newest time in the batch */
  sequences: Array<{ tenant_id: string; source: string; last_time: string }>;
  /** per tenant with rows or early duplicates: rows in the batch and duplicates caught before it */
  tenants: Array<{ tenant_id: string; total: number; early: number }>;
  lines: Array<{
    time: string;
    tenant_id: string;
    event_id: string;
    line_no: number;
    order_id: string | null;
    customer_id: string | null;
    channel: string | null;
    currency: string | null;
    item_id: string;
    quantity: number;
    unit_price_minor: number;
    line_minor: number;
    net_line_minor: number;
  }>;
  items: Array<{
    ord: number;
    time: string;
    tenant_id: string;
    event_id: string;
    item_id: string;
    currency: string | null;
    amount_minor: number | null;
    props: Record<string, unknown>;
  }>;
  customers: Array<{
    ord: number;
    time: string;
    tenant_id: string;
    event_id: string;
    customer_id: string;
    email_hash: string | null;
  }>;
}

/** `times`: each row's time as ISO text, made once per batch (formatting dates is a measurable cost) */
export function batchFacts(rows: EventRow[], times: string[], earlyDuplicates: Map<string, number>): BatchFacts {
  const newestBefore: Array<string | null> = new Array(rows.length);
  const newest = new Map<string, { tenant: string; source: string; ms: number; iso: string }>();
  const tenants = new Map<string, { total: number; early: number }>();
  const lines: BatchFacts["lines"] = [];
  const items: BatchFacts["items"] = [];
  const customers: BatchFacts["customers"] = [];
  rows.forEach((r, ord) => {
    const ms = r.time.getTime();
    const time = times[ord]!;
    const key = `${r.tenant_id}\u0000${r.source}`;
    const seen = newest.get(key);
    newestBefore[ord] = seen ? seen.iso : null;
    if (!seen) newest.set(key, { tenant: r.tenant_id, source: r.source, ms, iso: time });
    else if (ms > seen.ms) {
      seen.ms = ms;
      seen.iso = time;
    }
    const t = tenants.get(r.tenant_id);
    if (t) t.total += 1;
    else tenants.set(r.tenant_id, { total: 1, early: 0 });
    if (r.type === "order.completed") {
      for (const l of orderLines(r.props)) {
        lines.push({
          time,
          tenant_id: r.tenant_id,
          event_id: r.event_id,
          line_no: l.line_no,
          order_id: r.order_id,
          customer_id: r.customer_id,
          channel: r.channel,
          currency: r.currency,
          item_id: l.item_id,
          quantity: l.quantity,
          unit_price_minor: l.unit_price_minor,
          line_minor: l.line_minor,
          net_line_minor: l.net_line_minor,
        });
      }
    } else if (r.type === "item.upserted" && r.item_id !== null) {
      items.push({
        ord,
        time,
        tenant_id: r.tenant_id,
        event_id: r.event_id,
        item_id: r.item_id,
        currency: r.currency,
        amount_minor: r.amount_minor,
        props: r.props,
      });
    } else if (r.type === "customer.registered" && r.customer_id !== null) {
      const hash = r.props.email_hash;
      customers.push({
        ord,
        time,
        tenant_id: r.tenant_id,
        event_id: r.event_id,
        customer_id: r.customer_id,
        email_hash: typeof hash === "string" ? hash : null,
      });
    }
  });
  for (const [t, n] of earlyDuplicates) {
    const x = tenants.get(t);
    if (x) x.early += n;
    else tenants.set(t, { total: 0, early: n });
  }
  return {
    newestBefore,
    sequences: [...newest.values()].map((q) => ({ tenant_id: q.tenant, source: q.source, last_time: q.iso })),
    tenants: [...tenants].map(([tenant_id, x]) => ({ tenant_id, total: x.total, early: x.early })),
    lines,
    items,
    customers,
  };
}
