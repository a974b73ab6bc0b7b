/**
 * The privacy step of ingest (design.md "Privacy, two tiers"): ValidEvent → EventRow with no raw IP,
 * email, name or user agent (rows.ts says what becomes what). The salt of a day is destroyed after the
 * next day, so a visitor can be counted per day but not followed longer. Dead-letter payloads are
 * redacted by redact.ts.
 */
import type { Sql } from "../../db/client.ts";
import type { Logger } from "../../logger.ts";
import type { EventRow, ValidEvent } from "../types.ts";
import { createKeyStore, type PrivacyOptions } from "./keys.ts";
import { isAnonymousVisit, needsTenantKey, toEventRow } from "./rows.ts";

export type { PrivacyOptions } from "./keys.ts";

export interface Privacy {
  /** load what the batch needs (≤ 2 queries, none when cached), then map each event synchronously */
  prepare(events: ValidEvent[], now: Date): Promise<(e: ValidEvent) => EventRow>;
}

const DAY_MS = 86_400_000;

function utcDay(t: Date | number): string {
  return new Date(typeof t === "number" ? t : t.getTime()).toISOString().slice(0, 10);
}

export function createPrivacy(sql: Sql, logger: Logger, opts: PrivacyOptions = {}): Privacy {
  const store = createKeyStore(sql, logger.child({ component: "privacy" }), opts);
  return {
    async prepare(events, now) {
      const oldestDay = utcDay(now.getTime() - DAY_MS); // yesterday (UTC): older salts are destroyed
      const { tenants, days } = secretsNeeded(events, oldestDay);
      const [tenantKeys, daySalts] = await Promise.all([store.tenantKeys(tenants), store.daySalts(days)]);
      const secrets = {
        tenantKey(e: ValidEvent) {
          const key = tenantKeys.get(e.tenantId);
          if (!key) throw new Error(`privacy: event ${e.id} of tenant ${e.tenantId} was not in the prepared batch`);
          return key;
        },
        daySalt(e: ValidEvent) {
          const day = utcDay(e.time);
          return day >= oldestDay ? daySalts.get(day) : undefined;
        },
      };
      return (e: ValidEvent): EventRow => toEventRow(e, secrets);
    },
  };
}

/** the tenants whose key and the UTC days (yesterday or later) whose salt a batch needs */
function secretsNeeded(events: ValidEvent[], oldestDay: string): { tenants: Set<string>; days: Set<string> } {
  const tenants = new Set<string>();
  const days = new Set<string>();
  for (const e of events) {
    const d = e.data;
    if (needsTenantKey(d)) tenants.add(e.tenantId);
    if (isAnonymousVisit(d)) {
      const day = utcDay(e.time);
      if (day >= oldestDay) days.add(day);
    }
  }
  return { tenants, days };
}
