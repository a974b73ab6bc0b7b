import { beforeAll, describe, expect, test } from "bun:test";
import type { Sql } from "../../../src/db/client.ts";
import { withTenant } from "../../../src/db/tenant.ts";
import { getTestDeps } from "../../helpers/deps.ts";

let sql: Sql;
const A = crypto.randomUUID();
const B = crypto.randomUUID();

beforeAll(async () => {
  sql = (await getTestDeps()).sql;
  // fixture rows written as the owner (bypasses RLS), two tenants and one row of unknown tenant
  await sql`insert into dead_letter_events (tenant_id, event_id, reason, transport) values
    (${A}, 'a-1', 'invalid_data', 'http'), (${A}, 'a-2', 'unknown_type', 'nats'),
    (${B}, 'b-1', 'invalid_data', 'http'), (null, 'x-1', 'malformed_json', 'nats')`;
  await sql`insert into events (time, tenant_id, event_id, type, schema_version, source) values
    (now(), ${A}, 'e-a-1', 'page.viewed', 2, '/web'), (now(), ${B}, 'e-b-1', 'page.viewed', 2, '/web'),
    (now(), ${B}, 'e-b-2', 'order.completed', 2, '/orders')`;
});

describe("withTenant: tenancy enforced in the database", () => {
  test("runs as the non-owner application role with app.tenant_id set", async () => {
    const [row] = await withTenant(sql, A, (tx) => tx`select current_user as role, current_setting('app.tenant_id') as tenant`);
    expect(row).toEqual({ role: "pulse_app", tenant: A });
  });

  test("row-level security hides other tenants' dead letters from a query without any WHERE", async () => {
    const rows = await withTenant(sql, A, (tx) => tx`select tenant_id, event_id from dead_letter_events order by event_id`);
    expect(rows.map((r) => r.event_id)).toEqual(["a-1", "a-2"]);
    const rowsB = await withTenant(sql, B, (tx) => tx`select event_id from dead_letter_events`);
    expect(rowsB.map((r) => r.event_id)).toEqual(["b-1"]);
  });

  test("the tenant view hides other tenants' events from a query without any WHERE", async () => {
    const rows = await withTenant(sql, B, (tx) => tx`select event_id from tenant_events order by event_id`);
    expect(rows.map((r) => r.event_id)).toEqual(["e-b-1", "e-b-2"]);
  });

  test("the application role cannot read the events hypertable directly", async () => {
    await expect(withTenant(sql, A, (tx) => tx`select count(*) from events`)).rejects.toThrow(/permission denied/);
  });

  test("inserting a row for another tenant is refused (RLS check and view check option)", async () => {
    await expect(
      withTenant(sql, A, (tx) => tx`insert into dead_letter_events (tenant_id, reason, transport) values (${B}, 'invalid_data', 'http')`),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(
        sql,
        A,
        (tx) =>
          tx`insert into tenant_events (time, tenant_id, event_id, type, schema_version, source) values (now(), ${B}, 'forged', 'page.viewed', 2, '/x')`,
      ),
    ).rejects.toThrow(/check option/);
    const [forged] = await sql`select count(*)::int as n from events where event_id = 'forged'`;
    expect(forged?.n).toBe(0);
  });

  test("rows whose tenant is unknown are visible to no tenant", async () => {
    const rows = await withTenant(sql, A, (tx) => tx`select event_id from dead_letter_events where event_id = 'x-1'`);
    expect(rows).toHaveLength(0);
  });

  test("statementTimeoutMs sets the transaction's statement_timeout with the tenant's settings, and only for it", async () => {
    const [before] = await sql`select current_setting('statement_timeout') as t`;
    const [inside] = await withTenant(sql, A, (tx) => tx`select current_setting('statement_timeout') as t`, { statementTimeoutMs: 1234 });
    expect(inside?.t).toBe("1234ms");
    const [plain] = await withTenant(sql, A, (tx) => tx`select current_setting('statement_timeout') as t`);
    const [after] = await sql`select current_setting('statement_timeout') as t`;
    expect(plain?.t).toBe(before?.t);
    expect(after?.t).toBe(before?.t);
  });

  test("settings that fail (a statement timeout out of range) reject the transaction with their error; fn's pipelined statements run none, and the connection serves the next one", async () => {
    const seen: string[] = [];
    const failed = withTenant(
      sql,
      A,
      async (tx) => {
        const [row] = await tx`select current_setting('app.tenant_id') as t`;
        seen.push(String(row?.t));
        return row;
      },
      { statementTimeoutMs: -1 },
    );
    await expect(failed).rejects.toThrow(/statement_timeout/);
    expect(seen).toEqual([]);
    const [row] = await withTenant(sql, A, (tx) => tx`select current_setting('app.tenant_id') as t`);
    expect(row?.t).toBe(A);
  });

  test("the tenant setting does not leak out of the transaction", async () => {
    await withTenant(sql, A, (tx) => tx`select 1`);
    const [row] = await sql`select current_user as role, coalesce(current_setting('app.tenant_id', true), '') as tenant`;
    expect(row?.role).not.toBe("pulse_app");
    expect(row?.tenant).toBe("");
  });

  test("a tenant's read of compressed events and order lines decompresses none of another tenant's rows", async () => {
    // a day of its own, far in the past, so this chunk is nobody else's: A has 3 rows, B 5 (each table)
    const day = "2001-02-03";
    const at = (i: number) => new Date(Date.parse(`${day}T10:00:00Z`) + i * 60_000);
    for (const [tenant, n] of [
      [A, 3],
      [B, 5],
    ] as const) {
      for (let i = 0; i < n; i++) {
        await sql`insert into events (time, tenant_id, event_id, type, schema_version, source) values (${at(i)}, ${tenant}, ${`old-${i}`}, 'page.viewed', 2, '/web')`;
        await sql`insert into order_lines (time, tenant_id, event_id, line_no, order_id, currency, item_id, quantity, unit_price_minor, line_minor, net_line_minor)
                  values (${at(i)}, ${tenant}, ${`old-${i}`}, 1, ${`o-${i}`}, 'EUR', 'item-1', 1, 100, 100, 100)`;
      }
    }
    for (const table of ["events", "order_lines"]) {
      const chunks =
        await sql`select compress_chunk(c) from show_chunks(${table}::regclass, newer_than => ${`${day}T00:00:00Z`}::timestamptz - interval '1 day', older_than => ${`${day}T00:00:00Z`}::timestamptz + interval '2 days') c`;
      expect(chunks.length).toBe(1);
    }

    type PlanNode = {
      "Node Type": string;
      "Custom Plan Provider"?: string;
      "Actual Rows": number;
      "Rows Removed by Filter"?: number;
      Plans?: PlanNode[];
    };
    const decompressions = (n: PlanNode): PlanNode[] => [
      ...(n["Custom Plan Provider"] === "ColumnarScan" || n["Custom Plan Provider"] === "DecompressChunk" ? [n] : []),
      ...(n.Plans ?? []).flatMap(decompressions),
    ];
    const from = new Date(`${day}T00:00:00Z`);
    const to = new Date(from.getTime() + 86_400_000);
    for (const view of ["tenant_events", "tenant_order_lines"]) {
      const rows = await withTenant(
        sql,
        A,
        (tx) => tx`select event_id from ${tx(view)} where time >= ${from} and time < ${to} order by event_id`,
      );
      expect(rows.map((r) => r.event_id)).toEqual(["old-0", "old-1", "old-2"]);
      const [explained] = await withTenant(
        sql,
        A,
        (tx) => tx`explain (analyze, format json) select event_id from ${tx(view)} where time >= ${from} and time < ${to}`,
      );
      const plan = (explained!["QUERY PLAN"] as Array<{ Plan: PlanNode }>)[0]!.Plan;
      const scans = decompressions(plan);
      // the compressed chunk is read, and the tenant filter is applied to its segments, not to its rows
      expect(scans.length).toBe(1);
      expect(scans[0]!["Actual Rows"]).toBe(3);
      expect(scans[0]!["Rows Removed by Filter"] ?? 0).toBe(0);
    }
  });

  test("a tenant id that is not a uuid is refused before reaching the database", async () => {
    await expect(withTenant(sql, "' or 1=1 --", (tx) => tx`select 1`)).rejects.toThrow();
  });
});
