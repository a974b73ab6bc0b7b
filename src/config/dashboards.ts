/** Saved dashboards: how their widgets are answered in one call and how the live stream paces itself; the web app. */
import { int, section } from "./section.ts";

export const dashboards = section({
  vars: {
    DASHBOARD_CONCURRENCY: int(1, 64).default(4),
    DASHBOARD_WIDGET_TIMEOUT_MS: int(50, 600_000).default(10_000),
    DASHBOARD_LIVE_POLL_MS: int(100, 60_000).default(1_000),
    DASHBOARD_LIVE_MIN_INTERVAL_MS: int(0, 600_000).default(2_000),
    DASHBOARD_LIVE_HEARTBEAT_MS: int(1_000, 600_000).default(15_000),
  },
  read: (e, base) => ({
    /**
     * GET /v1/dashboards/{id}/data: widgets answered at once at most, and how long one widget may take
     * before it gets a `timeout` entry; the live stream: how often it looks at the tenant's data
     * generation, the least time between two updates, and the heartbeat interval
     */
    dashboards: {
      concurrency: e.DASHBOARD_CONCURRENCY,
      widgetTimeoutMs: e.DASHBOARD_WIDGET_TIMEOUT_MS,
      livePollMs: e.DASHBOARD_LIVE_POLL_MS,
      liveMinIntervalMs: e.DASHBOARD_LIVE_MIN_INTERVAL_MS,
      heartbeatMs: e.DASHBOARD_LIVE_HEARTBEAT_MS,
    },
    /** the web app at /app: outside production its sign-in page shows how to make a development token */
    web: { tokenHint: base.nodeEnv !== "production" },
  }),
});
