/** Stored rows → API shapes (pricing.schemas.ts): a demand row with its recommendation, a change, a transition. */
import type { Config } from "../config.ts";
import { gridOf } from "../config/pricing.ts";
import type { ChangeRow, HistoryRow } from "./changes.queries.ts";
import { dec, type DemandRow, num, numOrNull } from "./pricing.queries.ts";
import { recommend, type Recommendation } from "./recommend.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function recommendationOf(r: DemandRow, p: Config["pricing"], now: Date): Recommendation {
  return recommend(
    {
      score: r.score,
      scoreReason: r.reason,
      confidence: dec(r.confidence),
      currency: r.currency,
      catalogCurrency: r.catalog_currency,
      currentPriceMinor: num(r.base_price_minor),
      minPriceMinor: numOrNull(r.min_price_minor),
      maxPriceMinor: numOrNull(r.max_price_minor),
      kind: r.kind,
      startsAt: r.starts_at,
      now,
    },
    { maxStepPct: p.maxStepPct, minConfidence: p.minConfidence, grid: gridOf(p.priceGrid, r.currency) },
  );
}

/** the numbers of a component (jsonb) as JSON numbers */
function component(c: Record<string, unknown> | undefined) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c ?? {})) out[k] = typeof v === "string" && k !== "note" ? Number(v) : v;
  return out as { score: number | null; weight: number; note?: string };
}

export function demandItem(r: DemandRow, p: Config["pricing"], now: Date) {
  const sold = num(r.sold);
  return {
    item_id: r.item_id,
    name: r.name,
    category: r.category,
    kind: r.kind as "ticketed_event" | "product",
    currency: r.currency,
    score: dec(r.score),
    reason: r.reason as DemandReason,
    confidence: dec(r.confidence),
    scored_at: r.scored_at.toISOString(),
    inputs: {
      on_sale_since: iso(r.on_sale_since),
      days_on_sale: dec(r.days_on_sale),
      selling_window_days: dec(r.selling_window_days),
      sold,
      capacity: r.capacity,
      remaining: r.capacity === null ? null : Math.max(0, r.capacity - sold),
      units_7d: num(r.units_7d),
      units_28d: num(r.units_28d),
      views_14d: num(r.views_14d),
      carts_14d: num(r.carts_14d),
      orders_14d: num(r.orders_14d),
      tenant_conversion_14d: dec(r.tenant_conversion_14d),
      evidence: Number(r.evidence),
      stability: dec(r.stability),
      recent_scores: r.recent_scores.map(Number),
    },
    components: {
      pacing: component(r.components.pacing),
      velocity: component(r.components.velocity),
      conversion: component(r.components.conversion),
      scarcity: component(r.components.scarcity),
    },
    recommendation: recommendationOf(r, p, now),
  };
}
type DemandReason = "scored" | "sold_out" | "started" | "no_data" | "brand_new" | "insufficient_data";

export const etagOf = (version: number) => `"${version}"`;

/** (b − a) / a × 100, 2 decimals */
export const pctChange = (a: number, b: number) => Math.round(((b - a) / a) * 10_000) / 100;

export function changeOf(c: ChangeRow) {
  const oldPrice = num(c.old_price_minor);
  const newPrice = num(c.new_price_minor);
  return {
    id: c.id,
    etag: etagOf(c.version),
    version: c.version,
    item_id: c.item_id,
    currency: c.currency,
    status: c.status,
    source: c.source,
    old_price_minor: oldPrice,
    new_price_minor: newPrice,
    change_pct: pctChange(oldPrice, newPrice),
    reason: c.reason,
    recommendation: c.recommendation,
    proposed_by: c.proposed_by,
    proposed_at: c.proposed_at.toISOString(),
    expires_at: c.expires_at.toISOString(),
    decided_by: c.decided_by,
    decided_at: iso(c.decided_at),
    decision_reason: c.decision_reason,
    applied_at: iso(c.applied_at),
    published_at: iso(c.published_at),
    superseded_by: c.superseded_by,
  };
}

export function transitionOf(h: HistoryRow) {
  return {
    id: h.change_id,
    version: h.version,
    item_id: h.item_id,
    currency: h.currency,
    from_status: h.from_status,
    to_status: h.to_status,
    actor: h.actor,
    at: h.at.toISOString(),
    reason: h.reason,
    old_price_minor: num(h.old_price_minor),
    new_price_minor: num(h.new_price_minor),
    recommendation: h.recommendation,
  };
}
