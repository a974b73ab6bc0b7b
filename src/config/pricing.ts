/**
 * Dynamic pricing (src/pricing/): how far a recommendation may move a price, how sure it must be, how
 * long a proposal waits for a decision, the price grid, and where approved changes are published.
 */
import { z } from "zod";
import { int, section } from "./section.ts";

const CURRENCY = /^[A-Z]{3}$/;

/**
 * PRICING_PRICE_GRID: "<default>" or "<default>,<CUR>:<grid>,…" in minor units, e.g. "50,JPY:10,KWD:500":
 * recommended prices are multiples of the grid of their currency.
 */
const grid = z
  .string()
  .default("50")
  .transform((v, ctx) => {
    const parts = v
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    const out: { default: number; byCurrency: Record<string, number> } = { default: 0, byCurrency: {} };
    const amount = (s: string) => (/^\d{1,9}$/.test(s) && Number(s) >= 1 ? Number(s) : undefined);
    for (const p of parts) {
      const [cur, value] = p.includes(":") ? p.split(":", 2) : [undefined, p];
      const n = amount((value ?? "").trim());
      if (n === undefined || (cur !== undefined && !CURRENCY.test(cur.trim()))) {
        ctx.addIssue({
          code: "custom",
          message: `'${p.slice(0, 40)}' is not <minor units ≥ 1> or <CUR>:<minor units ≥ 1>, e.g. 50,JPY:10`,
        });
        return z.NEVER;
      }
      if (cur === undefined) out.default = n;
      else out.byCurrency[cur.trim()] = n;
    }
    if (out.default === 0) {
      ctx.addIssue({ code: "custom", message: "needs a default grid (a bare number), e.g. 50 or 50,JPY:10" });
      return z.NEVER;
    }
    return out;
  });

export const pricing = section({
  vars: {
    PRICING_MAX_STEP_PCT: int(1, 100).default(15),
    PRICING_MIN_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.3),
    PRICING_PENDING_TTL_HOURS: int(1, 24 * 365).default(72),
    PRICING_PRICE_GRID: grid,
    PRICING_NATS_STREAM: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("PRICING"),
    PRICING_SUBJECT_PREFIX: z
      .string()
      .regex(/^[a-z0-9_-]+$/, "lowercase letters, digits, _ and - only")
      .default("pricing"),
    PRICING_OUTBOX_POLL_MS: int(100, 600_000).default(1_000),
  },
  read: (e) => ({
    pricing: {
      /** a recommendation or a manual price moves at most this many percent from the current price */
      maxStepPct: e.PRICING_MAX_STEP_PCT,
      /** below this confidence (0–1) a recommendation is "hold" */
      minConfidence: e.PRICING_MIN_CONFIDENCE,
      /** a pending change not decided within this many hours expires */
      pendingTtlHours: e.PRICING_PENDING_TTL_HOURS,
      /** recommended prices are multiples of the grid of their currency (minor units) */
      priceGrid: e.PRICING_PRICE_GRID,
      /** approved changes are published on <subjectPrefix>.<tenantid>.price.change_approved in this stream */
      natsStream: e.PRICING_NATS_STREAM,
      subjectPrefix: e.PRICING_SUBJECT_PREFIX,
      /** how often the pricing worker publishes the outbox, marks arrived prices applied and expires proposals */
      outboxPollMs: e.PRICING_OUTBOX_POLL_MS,
    },
  }),
  check: (e, _base, ctx) => {
    // the whole environment is parsed at once: the nats section's prefix is there too
    if (e.PRICING_SUBJECT_PREFIX === (e as Record<string, unknown>).NATS_SUBJECT_PREFIX) {
      ctx.addIssue({
        code: "custom",
        path: ["PRICING_SUBJECT_PREFIX"],
        message: "must differ from NATS_SUBJECT_PREFIX: the ingest stream would take the approvals as events",
      });
    }
  },
});

/** the grid of a currency (minor units) */
export function gridOf(g: { default: number; byCurrency: Record<string, number> }, currency: string): number {
  return g.byCurrency[currency] ?? g.default;
}
