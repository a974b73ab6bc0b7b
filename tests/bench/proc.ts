/** Process figures for the benchmarks, from /proc (Linux). */
import { readFileSync } from "node:fs";

/** a field of /proc/<pid>/status in kB (VmRSS, VmHWM, …), or null */
export function procStatusKb(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** user+system CPU seconds of a process, from /proc/<pid>/stat */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** the embedded engine child of process `parent` (other engines may run on the same machine) */
export function engineChildPid(parent: number = process.pid): number | null {
  const r = Bun.spawnSync(["pgrep", "-P", String(parent), "-f", "embedded/server.ts"]);
  const pid = Number(r.stdout.toString().trim().split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** the pid of the oldest process named exactly `name` (nats-server, say), or null */
export function pidOf(name: string): number | null {
  const r = Bun.spawnSync(["pgrep", "-o", "-x", name]);
  const pid = Number(r.stdout.toString().trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** seconds every core of the machine has spent idle (idle + iowait of /proc/stat's "cpu" line), or null */
export function machineIdleSeconds(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/);
    // cpu user nice system idle iowait …
    return (Number(f[4]) + Number(f[5])) / CLK_TCK;
  } catch {
    return null;
  }
}
