/** Recovery (src/recovery/, docs/recovery.md): the reconciliation window and metric, and how replays are paced. */
import { int, section } from "./section.ts";

export const recovery = section({
  vars: {
    RECONCILIATION_LOOKBACK_DAYS: int(1, 366).default(14),
    RECONCILIATION_METRIC_TENANTS: int(1, 1_000).default(20),
    REPLAY_RATE_PER_SEC: int(1, 1_000_000).default(2_000),
    REPLAY_BATCH_SIZE: int(1, 5_000).default(250),
    REPLAY_YIELD_PENDING: int(0, 1_000_000_000).default(10_000),
    REPLAY_POLL_MS: int(100, 600_000).default(2_000),
    REPLAY_LEASE_MS: int(5_000, 3_600_000).default(60_000),
  },
  read: (e) => ({
    recovery: {
      /** days re-checked by every reconciliation run (the job's lookback_days) */
      reconciliationLookbackDays: e.RECONCILIATION_LOOKBACK_DAYS,
      /** tenants named in pulse_reconciliation_mismatch_days; the rest are summed under tenant="other" */
      reconciliationMetricTenants: e.RECONCILIATION_METRIC_TENANTS,
      /** messages a replay reads per second at most (a replica's share of the engine left to live ingest) */
      replayRatePerSec: e.REPLAY_RATE_PER_SEC,
      /** messages per replay batch (one pipeline write each) */
      replayBatchSize: e.REPLAY_BATCH_SIZE,
      /** a replay waits while the live consumer has more than this many messages pending (0: never waits) */
      replayYieldPending: e.REPLAY_YIELD_PENDING,
      replayPollMs: e.REPLAY_POLL_MS,
      replayLeaseMs: e.REPLAY_LEASE_MS,
    },
  }),
});
