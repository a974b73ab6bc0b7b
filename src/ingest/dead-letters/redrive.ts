/**
 * Dead-letter redrive (POST /v1/dead-letters/redrive): re-validate stored dead letters of one tenant
 * against today's catalog and limits, through the ingest pipeline as it is (validation, anonymisation,
 * exactly-once storage). A now-valid payload is stored once (or found stored: a duplicate) and its dead
 * letter becomes `redriven` with the event id; the rest keep their row with one attempt more and their
 * new reason and issues. Re-rejections file no second dead letter and are not republished.
 *
 * What a redriven event loses: dead letters hold the payload REDACTED (privacy/redact.ts): an IP is kept
 * as its network prefix, an e-mail as "[redacted-email]", a user agent as its family, names dropped. None
 * of these is the original, so before re-validation the data's `ip`, `user_agent`/`ua` and `email` are
 * removed (a prefix is not an IP, a placeholder not an e-mail, and hashing them would give wrong ids). A
 * redriven event therefore has no visitor id (it needs the raw IP and user agent and the day's salt: an
 * anonymous visit is not counted as a visitor), no ip_prefix, ua_family or ua_hash, and no email_hash (a
 * redriven customer.registered leaves the customer's e-mail hash as it was). Everything else is intact.
 */
import type { Sql, TxSql } from "../../db/client.ts";
import { withTenant } from "../../db/tenant.ts";
import type { Logger } from "../../logger.ts";
import type { IncomingMessage, IngestPipeline, Outcome } from "../pipeline.ts";
import type { FieldIssue, RejectReason } from "../types.ts";
import {
  claimDeadLetters,
  type ClaimedDeadLetter,
  countWithoutPayload,
  markRedriven,
  type RedriveFilter,
  type RedriveMark,
  releaseClaims,
} from "./dead-letters.queries.ts";

/** the data fields whose stored (redacted) form cannot be re-validated or re-hashed */
export const REDACTED_DATA_FIELDS = ["ip", "user_agent", "ua", "email"] as const;

/** dead letters re-validated per pipeline batch */
const BATCH = 500;
/** how long a redrive holds its rows (a crashed redrive's rows are free again after this) */
const CLAIM_S = 300;

export interface RedriveOptions {
  sql: Sql;
  pipeline: IngestPipeline;
  logger: Logger;
}

export interface RedriveItem {
  id: string;
  outcome: "stored" | "duplicate" | "rejected";
  event_id: string | null;
  reason: RejectReason | null;
  issues: FieldIssue[];
}

export interface RedriveResult {
  tenant_id: string;
  attempted: number;
  stored: number;
  duplicates: number;
  still_rejected: number;
  /** pending dead letters of the filter without a payload (unparseable, too large): nothing to re-validate */
  without_payload: number;
  /** the last id attempted when `limit` rows were taken (pass it back as after_id), else null */
  next_after_id: string | null;
  results: RedriveItem[];
}

/** the payload a redrive re-validates: the stored one without the redacted fields of its data */
export function redrivableInput(payload: unknown): unknown {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return payload;
  const p = payload as Record<string, unknown>;
  const data = p.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return p;
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!(REDACTED_DATA_FIELDS as readonly string[]).includes(k)) kept[k] = v;
  return { ...p, data: kept };
}

/** redrive up to `limit` pending dead letters of one tenant that match the filter, oldest first */
export async function redriveDeadLetters(
  o: RedriveOptions,
  tenantId: string,
  filter: RedriveFilter,
  limit: number,
): Promise<RedriveResult> {
  const tenant = <T>(fn: (tx: TxSql) => Promise<T>) => withTenant(o.sql, tenantId, fn);
  const claimed = await tenant((tx) => claimDeadLetters(tx, filter, limit, CLAIM_S));
  const withoutPayload = await tenant((tx) => countWithoutPayload(tx, filter));
  const result: RedriveResult = {
    tenant_id: tenantId,
    attempted: 0,
    stored: 0,
    duplicates: 0,
    still_rejected: 0,
    without_payload: withoutPayload,
    next_after_id: claimed.length === limit ? claimed.at(-1)!.id : null,
    results: [],
  };
  for (let i = 0; i < claimed.length; i += BATCH) {
    const part = claimed.slice(i, i + BATCH);
    let outcomes: Outcome[];
    try {
      outcomes = await revalidate(o.pipeline, tenantId, part);
    } catch (err) {
      await tenant((tx) =>
        releaseClaims(
          tx,
          claimed.slice(i).map((d) => d.id),
        ),
      );
      throw err;
    }
    const marks: RedriveMark[] = part.map((d, j) => {
      const out = outcomes[j]!;
      if (out.status === "rejected") {
        result.still_rejected += 1;
        result.results.push({ id: d.id, outcome: "rejected", event_id: out.id, reason: out.reason, issues: out.issues });
        return { id: d.id, redrivenEventId: null, reason: out.reason, issues: out.issues };
      }
      const outcome = out.status === "accepted" ? "stored" : "duplicate";
      if (outcome === "stored") result.stored += 1;
      else result.duplicates += 1;
      result.results.push({ id: d.id, outcome, event_id: out.id, reason: null, issues: [] });
      return { id: d.id, redrivenEventId: out.id, reason: null, issues: null };
    });
    await tenant((tx) => markRedriven(tx, marks));
    result.attempted += part.length;
  }
  o.logger.info(
    {
      tenant_id: tenantId,
      attempted: result.attempted,
      stored: result.stored,
      duplicates: result.duplicates,
      still_rejected: result.still_rejected,
    },
    "dead letters redriven",
  );
  return result;
}

/**
 * The pipeline's own validation and write, with the re-rejections' dead letters left out: a redrive
 * updates the existing row instead of filing (and republishing) a second one.
 */
async function revalidate(pipeline: IngestPipeline, tenantId: string, part: ClaimedDeadLetter[]): Promise<Outcome[]> {
  const msgs: IncomingMessage[] = part.map((d) => ({
    input: redrivableInput(d.payload),
    expectedTenant: tenantId,
    transport: d.transport,
    subject: d.subject,
    stream: null,
    streamSequence: null,
  }));
  const prepared = pipeline.prepare(msgs);
  return pipeline.commit({ ...prepared, deadLetters: [] });
}
