import { beforeAll, describe, expect, test } from "bun:test";
import type { Sql } from "../../src/db/client.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { getTestDeps } from "../helpers/deps.ts";

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
      withTenant(sql, A, (tx) => tx`insert into tenant_events (time, tenant_id, event_id, type, schema_version, source) values (now(), ${B}, 'forged', 'page.viewed', 2, '/x')`),
    ).rejects.toThrow(/check option/);
    const [forged] = await sql`select count(*)::int as n from events where event_id = 'forged'`;
    expect(forged?.n).toBe(0);
  });

  test("rows whose tenant is unknown are visible to no tenant", async () => {
    const rows = await withTenant(sql, A, (tx) => tx`select event_id from dead_letter_events where event_id = 'x-1'`);
    expect(rows).toHaveLength(0);
  });

  test("the tenant setting does not leak out of the transaction", async () => {
    await withTenant(sql, A, (tx) => tx`select 1`);
    const [row] = await sql`select current_user as role, coalesce(current_setting('app.tenant_id', true), '') as tenant`;
    expect(row?.role).not.toBe("pulse_app");
    expect(row?.tenant).toBe("");
  });

  test("a tenant id that is not a uuid is refused before reaching the database", async () => {
    await expect(withTenant(sql, "' or 1=1 --", (tx) => tx`select 1`)).rejects.toThrow();
  });
});
