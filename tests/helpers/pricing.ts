/** Fixture builders of the pricing tests: catalog items, item views and orders at whole days before an instant S. */
import type { Deps } from "../../src/deps.ts";
import { refreshTenantDemand } from "../../src/pricing/pricing.queries.ts";
import { ingestAccepted } from "./deps.ts";
import { type CloudEvent, envelope, itemUpserted, itemViewed, orderCompleted } from "./events.ts";

export const DAY = 86_400_000;

export function fixtures(S: Date) {
  const at = (daysBefore: number, minutes = 0) => new Date(S.getTime() - daysBefore * DAY - minutes * 60_000).toISOString();
  const views = (t: string, item: string, n: number, fromDaysBefore: number): CloudEvent[] =>
    Array.from({ length: n }, (_, i) => itemViewed(t, `s-${item}-${fromDaysBefore}-${i}`, item, { time: at(fromDaysBefore, i) }));
  const orders = (t: string, item: string, n: number, qty: number, price: number, daysBefore: number, currency = "EUR"): CloudEvent[] =>
    Array.from({ length: n }, (_, i) =>
      orderCompleted(
        t,
        { time: at(daysBefore, i) },
        {
          order_id: `o-${item}-${daysBefore}-${i}`,
          currency,
          lines: [{ item_id: item, quantity: qty, unit_price_minor: price }],
          discount_minor: 0,
          total_minor: qty * price,
        },
      ),
    );
  const show = (t: string, id: string, capacity: number, startsDays: number, price: number, min: number, max: number) =>
    itemUpserted(
      t,
      id,
      { time: at(30) },
      {
        capacity,
        starts_at: new Date(S.getTime() + startsDays * DAY).toISOString(),
        base_price_minor: price,
        min_price_minor: min,
        max_price_minor: max,
      },
    );
  const product = (t: string, id: string, extra: Record<string, unknown> = {}) =>
    envelope(
      t,
      "item.upserted",
      { item_id: id, name: id, category: "merch", kind: "product", currency: "EUR", base_price_minor: 2000, ...extra },
      { time: at(30) },
    );
  return { at, views, orders, show, product };
}

/**
 * The fast show of tests/integration/pricing/scores.test.ts alone in tenant t (its conversion ratio is
 * then 1 ⇒ 50): pacing 51.3514, velocity 58.6957, conversion 50, scarcity 95 ⇒ score
 * .4·51.3514 + .25·58.6957 + .2·50 + .15·95 = 59.4645 ⇒ 59.5, confidence 0.5 (first run) ⇒ +4.75 % of 5000 =
 * 5237.5 ⇒ grid 50 ⇒ 5250 (halves up). Scored as of S.
 */
export async function seedFastShow(
  deps: Deps,
  t: string,
  S: Date,
  itemId = "fast-show",
): Promise<{ recommended: number; current: number }> {
  const f = fixtures(S);
  await ingestAccepted(deps, [
    f.show(t, itemId, 200, 2, 5000, 4000, 6000),
    ...f.views(t, itemId, 1, 18),
    ...f.views(t, itemId, 40, 1),
    ...f.orders(t, itemId, 17, 5, 5000, 15),
    ...f.orders(t, itemId, 21, 5, 5000, 2),
  ]);
  await refreshTenantDemand(deps.sql, t, S);
  return { recommended: 5250, current: 5000 };
}
