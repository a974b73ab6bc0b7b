import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readContainerMemory } from "../../src/metrics/memory.ts";
import { tempDir } from "../helpers/tmp.ts";

function cgroup(files: Record<string, string>): string {
  const root = tempDir("cgroup");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("readContainerMemory (pulse_memory_working_set_bytes, pulse_memory_limit_bytes)", () => {
  test("cgroup v2: the working set is usage minus inactive file cache, the limit is memory.max", () => {
    const root = cgroup({
      "memory.max": "1073741824\n",
      "memory.current": "600000000\n",
      "memory.stat": "anon 400000000\nfile 200000000\nactive_file 100000000\ninactive_file 100000000\n",
    });
    // 600,000,000 − 100,000,000 = 500,000,000; 1 GiB = 1,073,741,824
    expect(readContainerMemory(root)).toEqual({ limitBytes: 1_073_741_824, workingSetBytes: 500_000_000, source: "cgroup2" });
  });

  test('cgroup v2 without a limit ("max") reports +Inf, so the ratio the alert takes is 0', () => {
    const root = cgroup({ "memory.max": "max\n", "memory.current": "1000\n", "memory.stat": "inactive_file 0\n" });
    expect(readContainerMemory(root)).toEqual({ limitBytes: Infinity, workingSetBytes: 1000, source: "cgroup2" });
  });

  test("cgroup v1: usage_in_bytes minus total_inactive_file; its page-rounded 2^63 means no limit", () => {
    const limited = cgroup({
      "memory/memory.limit_in_bytes": "536870912\n",
      "memory/memory.usage_in_bytes": "300000000\n",
      "memory/memory.stat": "cache 50000000\ninactive_file 1\ntotal_inactive_file 20000000\n",
    });
    // 300,000,000 − 20,000,000 = 280,000,000 (total_, not the cgroup's own inactive_file); 512 MiB = 536,870,912
    expect(readContainerMemory(limited)).toEqual({ limitBytes: 536_870_912, workingSetBytes: 280_000_000, source: "cgroup1" });
    const unlimited = cgroup({ "memory/memory.limit_in_bytes": "9223372036854771712\n", "memory/memory.usage_in_bytes": "5\n" });
    expect(readContainerMemory(unlimited)).toEqual({ limitBytes: Infinity, workingSetBytes: 5, source: "cgroup1" });
  });

  test("outside a cgroup with memory accounting: the process's RSS and no limit", () => {
    expect(readContainerMemory(tempDir("no-cgroup"), () => 123_456)).toEqual({
      limitBytes: Infinity,
      workingSetBytes: 123_456,
      source: "process",
    });
  });
});
