/**
 * The container's memory as the kernel and the kubelet see it, read from the process's cgroup at each
 * scrape: the limit (memory.max on cgroup v2, memory.limit_in_bytes on v1; +Inf when there is none)
 * and the working set (usage − inactive file cache: what cAdvisor reports as
 * container_memory_working_set_bytes and what the kubelet evicts and the OOM killer acts on). Outside
 * a cgroup with memory accounting the working set is the process's resident set size.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ContainerMemory {
  limitBytes: number;
  workingSetBytes: number;
  source: "cgroup2" | "cgroup1" | "process";
}

/** v1 writes "no limit" as a page-rounded 2^63 − 1 */
const V1_UNLIMITED = 2 ** 62;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** a `key value` line of memory.stat */
function stat(text: string | undefined, key: string): number {
  const m = text?.match(new RegExp(`^${key} (\\d+)$`, "m"));
  return m ? Number(m[1]) : 0;
}

/** the resident set size (process.memoryUsage.rss() where the runtime has the cheap form) */
function processRss(): number {
  return typeof process.memoryUsage.rss === "function" ? process.memoryUsage.rss() : process.memoryUsage().rss;
}

export function readContainerMemory(root = "/sys/fs/cgroup", rss: () => number = processRss): ContainerMemory {
  const current = read(join(root, "memory.current"));
  if (current !== undefined) {
    const max = read(join(root, "memory.max"));
    return {
      limitBytes: max === undefined || max === "max" ? Infinity : Number(max),
      workingSetBytes: Math.max(0, Number(current) - stat(read(join(root, "memory.stat")), "inactive_file")),
      source: "cgroup2",
    };
  }
  const usage = read(join(root, "memory", "memory.usage_in_bytes"));
  if (usage !== undefined) {
    const limit = Number(read(join(root, "memory", "memory.limit_in_bytes")) ?? Infinity);
    return {
      limitBytes: limit >= V1_UNLIMITED ? Infinity : limit,
      workingSetBytes: Math.max(0, Number(usage) - stat(read(join(root, "memory", "memory.stat")), "total_inactive_file")),
      source: "cgroup1",
    };
  }
  return { limitBytes: Infinity, workingSetBytes: rss(), source: "process" };
}
