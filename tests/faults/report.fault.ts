/**
 * The last file of `bun run test:faults`: prints the table of every scenario that ran before it in
 * this run (the files of one `bun test` run share tests/faults/harness.ts), and holds the suite's
 * headline to every row that counted events: nothing lost, nothing duplicated, nothing dead-lettered.
 */
import { expect, test } from "bun:test";
import { recorded, table } from "./harness.ts";

test("the fault table: every scenario of the run, 0 lost, 0 duplicated, 0 dead-lettered", () => {
  const rows = recorded();
  console.log(`\nFault-injection suite (to 503 / to 200: seconds; "never": readiness stayed 200)\n${table()}\n`);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows.filter((x) => x.published !== undefined)) {
    expect({ scenario: r.scenario, stored: r.stored, lost: r.lost, duplicated: r.duplicated, deadLettered: r.deadLettered }).toEqual({
      scenario: r.scenario,
      stored: r.published,
      lost: 0,
      duplicated: 0,
      deadLettered: 0,
    });
  }
});
