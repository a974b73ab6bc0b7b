/** Readiness probes: how long one dependency check may take. */
import { int, section } from "./section.ts";

export const health = section({
  vars: { HEALTH_PROBE_TIMEOUT_MS: int(100, 5_000).default(2_000) },
  read: (e) => ({ health: { probeTimeoutMs: e.HEALTH_PROBE_TIMEOUT_MS } }),
});
