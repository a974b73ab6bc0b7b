/**
 * The workflow's two writes, each one tenant transaction:
 * - propose: the catalog item and its demand row are read, the price chosen (the recommendation, or a
 *   manual price checked against the bounds), the item's pending change superseded, the new change and
 *   its first history row written, and, with an Idempotency-Key, the answer stored under the key in the
 *   same transaction (a failed proposal stores nothing, so a retry runs again);
 * - decide: the change is locked (FOR UPDATE), then four eyes (403), If-Match (428 missing, 412 stale),
 *   state (409), expiry, the transition, and for an approval the outbox row of price.change_approved.
 * Errors are HttpProblems thrown inside the transaction (it rolls back); an expiry found at decision time
 * is committed first and answered 409 after.
 */
import { createHash } from "node:crypto";
import type { TxSql } from "../db/client.ts";
import { withTenant } from "../db/tenant.ts";
import type { Deps } from "../deps.ts";
import { HttpProblem } from "../http/problem.ts";
import { PRICING_EVENT_SOURCE, PriceChangeApprovedData } from "../ingest/schemas/emitted.ts";
import { type ChangeRow, changeById, insertChange, insertOutbox, storeAnswer, storedAnswer, transition } from "./changes.queries.ts";
import { changeOf, demandItem, etagOf, recommendationOf } from "./present.ts";
import { catalogItem, demandOfItem, num, numOrNull } from "./pricing.queries.ts";
import { priceLimits } from "./recommend.ts";

type ChangeBody = ReturnType<typeof changeOf>;
const field = (path: string, message: string) => ({ errors: [{ path, message }] });
const unprocessable = (path: string, message: string) => new HttpProblem(422, `${path}: ${message}`, field(path, message));

/** retried once: two concurrent first proposals for one item meet at the one-pending index (23505) */
async function once<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: string }).code === "23505") return fn();
    throw err;
  }
}

export interface ProposeInput {
  tenantId: string;
  sub: string;
  key: string | undefined;
  body: { item_id: string; price_minor?: number; reason?: string };
}

export async function propose(deps: Deps, i: ProposeInput): Promise<{ body: ChangeBody; replayed: boolean }> {
  const canonical = JSON.stringify([i.body.item_id, i.body.price_minor ?? null, i.body.reason ?? null]);
  const hash = createHash("sha256").update(canonical).digest("hex");
  return once(() =>
    withTenant(deps.sql, i.tenantId, async (tx) => {
      if (i.key !== undefined) {
        const stored = await storedAnswer(tx, i.sub, i.key);
        if (stored && stored.request_hash !== hash) {
          throw unprocessable("Idempotency-Key", "was used with another request body in the last 24 hours");
        }
        if (stored) return { body: stored.response as ChangeBody, replayed: true };
      }
      const body = await proposeIn(tx, deps, i);
      if (i.key !== undefined)
        await storeAnswer(tx, {
          principal: i.sub,
          key: i.key,
          operation: "proposePriceChange",
          request_hash: hash,
          status: 201,
          response: body,
        });
      return { body, replayed: false };
    }),
  );
}

async function proposeIn(tx: TxSql, deps: Deps, i: ProposeInput): Promise<ChangeBody> {
  const p = deps.config.pricing;
  const now = new Date();
  const item = await catalogItem(tx, i.body.item_id);
  if (!item) throw new HttpProblem(404, "item_id: no such item in your catalog", field("item_id", "not in your catalog"));
  if (item.kind === "ticketed_event" && item.starts_at !== null && item.starts_at <= now) {
    throw unprocessable("item_id", "the show has started: its price no longer changes");
  }
  const row = (await demandOfItem(tx, item.item_id)).find((r) => r.currency === item.currency);
  const snapshot = row ? demandItem(row, p, now) : null;
  const current = num(item.base_price_minor);
  let price: number;
  let source: "recommendation" | "manual";
  if (i.body.price_minor === undefined) {
    const rec = row ? recommendationOf(row, p, now) : undefined;
    if (!rec || rec.action === "hold") {
      const why = rec ? `the recommendation is to hold (${rec.reason})` : "the item has no demand score yet";
      throw unprocessable("price_minor", `${why}: give a manual price_minor`);
    }
    price = rec.recommended_price_minor;
    source = "recommendation";
  } else {
    price = i.body.price_minor;
    source = "manual";
    const min = numOrNull(item.min_price_minor);
    const max = numOrNull(item.max_price_minor);
    const { low, high } = priceLimits(current, min, max, p.maxStepPct);
    if (price === current) throw unprocessable("price_minor", `equals the current price ${current}`);
    if (max !== null && price > max) throw unprocessable("price_minor", `above max_price_minor ${max}`);
    if (min !== null && price < min) throw unprocessable("price_minor", `below min_price_minor ${min}`);
    if (price > high || price < low) {
      throw unprocessable(
        "price_minor",
        `moves more than PRICING_MAX_STEP_PCT (${p.maxStepPct} %) from ${current}: allowed ${low}–${high}`,
      );
    }
  }
  const id = crypto.randomUUID();
  await transition(tx, { item_id: item.item_id, currency: item.currency }, "pending", {
    to: "superseded",
    actor: i.sub,
    reason: `superseded by the newer proposal ${id}`,
    supersededBy: id,
  });
  await insertChange(tx, {
    id,
    item_id: item.item_id,
    currency: item.currency,
    source,
    old_price_minor: current,
    new_price_minor: price,
    reason: i.body.reason ?? null,
    recommendation: snapshot,
    proposed_by: i.sub,
    ttl_hours: p.pendingTtlHours,
  });
  return changeOf((await changeById(tx, id))!);
}

/** If-Match: a list of entity tags; matches when one is the change's strong ETag */
export function ifMatchHolds(header: string, version: number): boolean {
  const want = etagOf(version);
  return header.split(",").some((t) => t.trim() === want);
}

export interface DecideInput {
  tenantId: string;
  sub: string;
  changeId: string;
  ifMatch: string | undefined;
  reason: string | null;
  to: "approved" | "rejected";
}

export async function decide(deps: Deps, i: DecideInput): Promise<ChangeRow> {
  const out = await withTenant(deps.sql, i.tenantId, async (tx) => {
    const ch = await changeById(tx, i.changeId, { forUpdate: true });
    if (!ch) throw new HttpProblem(404, "change_id: no such price change in your tenant", field("change_id", "not found"));
    if (ch.proposed_by === i.sub) throw new HttpProblem(403, "four eyes: the proposer of a change cannot decide it");
    const etag = { headers: { ETag: etagOf(ch.version) } };
    if (i.ifMatch === undefined || i.ifMatch.trim() === "*") {
      throw new HttpProblem(428, "If-Match: send the change's ETag (from the proposal, GET or list) to decide it", {
        ...field("If-Match", "required: the change's ETag"),
        ...etag,
      });
    }
    if (!ifMatchHolds(i.ifMatch, ch.version)) {
      throw new HttpProblem(412, `If-Match: the change is at ${etagOf(ch.version)} (status ${ch.status}); read it again`, {
        ...field("If-Match", "stale"),
        ...etag,
      });
    }
    if (ch.status !== "pending") throw new HttpProblem(409, `the change is ${ch.status}, no longer pending`, etag);
    const at = { id: ch.id, version: ch.version };
    if (ch.expires_at <= new Date()) {
      await transition(tx, at, "pending", { to: "expired", actor: "system", reason: "not decided within PRICING_PENDING_TTL_HOURS" });
      return { expired: true as const };
    }
    if (i.to === "approved") {
      // a newer approval replaces an approved change of the item whose price has not arrived yet
      await transition(tx, { item_id: ch.item_id, currency: ch.currency }, "approved", {
        to: "superseded",
        actor: i.sub,
        reason: `superseded by the newer approval ${ch.id}`,
        supersededBy: ch.id,
      });
    }
    await transition(tx, at, "pending", { to: i.to, actor: i.sub, reason: i.reason, decision: true });
    const after = (await changeById(tx, ch.id))!;
    if (i.to === "approved") await insertOutbox(tx, ch.id, approvalEvent(after, i.tenantId));
    return { change: after };
  });
  if ("expired" in out) throw new HttpProblem(409, "the change expired (not decided within PRICING_PENDING_TTL_HOURS)");
  return out.change;
}

/** the price.change_approved CloudEvent of an approved change (its data checked against the catalog's schema) */
export function approvalEvent(c: ChangeRow, tenantId: string): Record<string, unknown> {
  const data = PriceChangeApprovedData.parse({
    change_id: c.id,
    item_id: c.item_id,
    currency: c.currency,
    previous_price_minor: num(c.old_price_minor),
    new_price_minor: num(c.new_price_minor),
    approved_at: c.decided_at!.toISOString(),
    reason: c.reason,
  });
  return {
    specversion: "1.0",
    id: c.id,
    source: PRICING_EVENT_SOURCE,
    type: "price.change_approved",
    time: data.approved_at,
    tenantid: tenantId,
    schemaversion: "1",
    subject: c.item_id,
    datacontenttype: "application/json",
    data,
  };
}
