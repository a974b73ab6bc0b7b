import { describe, expect, test } from "bun:test";
import type { Gauge } from "prom-client";
import { testApp } from "../../helpers/deps.ts";

/** the test deps' pool is metered (buildDeps wraps it) and has one connection (the embedded engine) */
describe("database pool use (pulse_db_pool_*)", () => {
  const value = async (g: Gauge | { get: Gauge["get"] }) => (await g.get()).values[0]?.value ?? 0;

  test("a transaction holds the one connection, a statement behind it waits, and both count as busy time until they end", async () => {
    const { deps } = await testApp();
    const m = deps.metrics;
    expect(await value(m.dbPoolMax)).toBe(1);
    await m.registry.metrics(); // accrue what came before
    const before = await value(m.dbPoolBusySeconds);

    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const tx = deps.sql.begin(async (t) => {
      await t`select 1`;
      entered();
      await Bun.sleep(400);
    });
    await inside;
    expect(await value(m.dbPoolInUse)).toBe(1);
    expect(await value(m.dbPoolWaiting)).toBe(0);
    const behind = deps.sql`select 2 as n`.then((rows) => rows[0]!.n);
    await Bun.sleep(50);
    expect(await value(m.dbPoolInUse)).toBe(1); // min(2 holders, pool of 1)
    expect(await value(m.dbPoolWaiting)).toBe(1);
    await tx;
    expect(await behind).toBe(2);
    expect(await value(m.dbPoolInUse)).toBe(0);
    expect(await value(m.dbPoolWaiting)).toBe(0);

    await m.registry.metrics();
    const busy = (await value(m.dbPoolBusySeconds)) - before;
    // the connection was held from the transaction's start to the statement's end: the 400 ms sleep plus
    // three short statements; never more than the wall time of the test's steps
    expect(busy).toBeGreaterThanOrEqual(0.4);
    expect(busy).toBeLessThan(2);
  });

  test("a fragment is never counted; a reserved connection counts until released; a failed statement ends its count", async () => {
    const { deps } = await testApp();
    const m = deps.metrics;
    const fragment = deps.sql`1 + 1`;
    expect(await value(m.dbPoolInUse)).toBe(0);
    expect((await deps.sql`select ${fragment} as n`)[0]!.n).toBe(2);
    expect(await value(m.dbPoolInUse)).toBe(0);

    const conn = await deps.sql.reserve();
    expect(await value(m.dbPoolInUse)).toBe(1);
    await conn`select 1`;
    conn.release();
    expect(await value(m.dbPoolInUse)).toBe(0);

    await expect(deps.sql`select 1/0`.then(() => "ok")).rejects.toThrow("division by zero");
    await Bun.sleep(20);
    expect(await value(m.dbPoolInUse)).toBe(0);
    expect(await value(m.dbPoolWaiting)).toBe(0);
  });
});
