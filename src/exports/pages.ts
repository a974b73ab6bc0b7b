/**
 * An export's source: the analytics operation's own answer function (src/analytics/registry.ts), with
 * parameters validated by the operation's own query schema, so a file holds exactly what the API
 * answers for the same parameters, through the same cached read path. A list operation is read page
 * after page (`list.next(body)` fed back as `cursor`) to its end.
 */
import type { AnalyticsOperation } from "../analytics/registry.ts";
import type { ReadContext } from "../analytics/shared/read.ts";
import { type FieldError, fieldErrors, HttpProblem } from "../http/problem.ts";
import type { ExportFormat } from "./formats/writer.ts";
import { type ExportLayout, layoutOf } from "./layout.ts";
import { rowsOf } from "./rows.ts";

/**
 * Rows per page an export reads from a list operation, by format: above the API's largest page (500,
 * which bounds one HTTP response), since each page costs a transaction and its round trips besides
 * its rows, and an export is trusted in-process code. A list answer function takes any limit; the
 * rows are the API's pages laid end to end.
 * CSV is bound by the reads (the embedded engine's one connection, idle between two pages while this
 * process answers), so its pages are larger; XLSX is bound by its writer, so larger pages would only
 * wait in memory (pages in hand on both threads). Measured (bench:exports, 1,000,000 rows, writer
 * thread, formats' libraries loaded on use): CSV 1,500 ⇒ 50,773 rows/s (peak RSS 219 MB); 3,000 ⇒
 * 50,715 / 47,831 (241 MB); 5,000 ⇒ 51,994 / 58,776 / 70,881 (265-277 MB). XLSX 1,500 ⇒ 28,520
 * (273 MB); 5,000 ⇒ 32,944 but 304 MB.
 */
export const PAGE_SIZES = { csv: 5_000, xlsx: 1_500, pdf: 1_500 } as const satisfies Record<ExportFormat, number>;

/** the parameters as a query string carries them */
export function paramStrings(params: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
}

const prefixed = (errors: FieldError[]): FieldError[] => errors.map((e) => ({ path: `params.${e.path}`, message: e.message }));

/** the operation's validated query, or a 400 naming `params.<field>` */
export function validateParams(op: AnalyticsOperation, params: Record<string, string>): unknown {
  const parsed = op.query.safeParse(params);
  if (!parsed.success) {
    const errors = prefixed(fieldErrors(parsed.error.issues));
    throw new HttpProblem(400, errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors });
  }
  return parsed.data;
}

/** a problem the operation answered (400 naming a field, 504…) restated for the export's `params` */
export function asParamsProblem(err: unknown): unknown {
  if (!(err instanceof HttpProblem) || !err.extra.errors) return err;
  const errors = prefixed(err.extra.errors);
  return new HttpProblem(err.status, errors.map((e) => `${e.path}: ${e.message}`).join("; "), { ...err.extra, errors });
}

/** the query of every page: `limit` rows, from the first row (the caller's cursor and limit do not apply) */
function firstPageQuery(op: AnalyticsOperation, params: Record<string, string>, limit: number): unknown {
  if (!op.list) return validateParams(op, params);
  const { cursor: _cursor, limit: _limit, ...rest } = params;
  return { ...(validateParams(op, rest) as Record<string, unknown>), limit };
}

/** runs the operation once (a list: its first row) so that its refusals (a range too wide…) surface now, naming `params.<field>` */
export async function checkAnswers(op: AnalyticsOperation, ctx: ReadContext, params: Record<string, string>): Promise<void> {
  try {
    await op.answer(ctx, firstPageQuery(op, params, 1));
  } catch (err) {
    throw asParamsProblem(err);
  }
}

export interface Page {
  body: unknown;
  /** list operations: the page's rows (an array inside body) */
  rows?: unknown[];
}

/**
 * The answer bodies of an export: one, or every page of a list operation. The next page is asked for
 * before the current one is handed out, so the database works on it while the caller writes this one.
 */
export async function* answerPages(
  op: AnalyticsOperation,
  ctx: ReadContext,
  params: Record<string, string>,
  pageSize: number,
): AsyncGenerator<Page> {
  const query = firstPageQuery(op, params, pageSize) as Record<string, unknown>;
  const read = async (q: Record<string, unknown>): Promise<unknown> => {
    const answer = await op.answer(ctx, q);
    return answer.value !== undefined ? answer.value : JSON.parse(answer.text);
  };
  if (!op.list) {
    yield { body: await read(query) };
    return;
  }
  let pending = read(query);
  for (;;) {
    const body = await pending;
    const next = op.list.next(body);
    if (next) {
      pending = read({ ...query, cursor: next });
      pending.catch(() => undefined); // the caller may stop first (a lost lease): the late outcome is dropped
    }
    yield { body, rows: op.list.rows(body) };
    if (!next) return;
  }
}

/** the layout of an export from its first page */
export function layoutOfPage(op: AnalyticsOperation, page: Page): ExportLayout {
  return layoutOf(op.operationId, page.body, page.rows);
}

/**
 * Rows of the main table, counted page by page up to `max + 1` (the PDF limit is checked before a
 * job is queued). Runs the operation: its 400s (a range too wide…) surface here, naming `params.<field>`.
 */
export async function countRows(
  op: AnalyticsOperation,
  ctx: ReadContext,
  params: Record<string, string>,
  max: number,
): Promise<{ rows: number; complete: boolean }> {
  let rows = 0;
  let layout: ExportLayout | undefined;
  try {
    for await (const page of answerPages(op, ctx, params, PAGE_SIZES.pdf)) {
      layout ??= layoutOfPage(op, page);
      rows += rowsOf(layout.tables[layout.main]!, page.body, "UTC").length;
      if (rows > max) return { rows, complete: false };
    }
  } catch (err) {
    throw asParamsProblem(err);
  }
  return { rows, complete: true };
}

/** the export's time zone: the operation's `timezone` parameter (validated), else UTC */
export function timezoneOf(query: unknown): string {
  const tz = (query as { timezone?: unknown } | null)?.timezone;
  return typeof tz === "string" ? tz : "UTC";
}
