/**
 * The default dashboard every tenant has (created on its first read of the dashboards, then an ordinary
 * editable dashboard that cannot be deleted): revenue, sales growth, the funnel, items, channels, the
 * last hour (the app's live panel) and customers, over the last 7 local days in UTC.
 */
import type { DashboardInput } from "./dashboards.schemas.ts";

export const DEFAULT_DASHBOARD: DashboardInput = {
  name: "Overview",
  description: "Revenue, sales growth, the funnel, items, channels, the last hour and customers",
  filters: { range: "7d", timezone: "UTC" },
  widgets: [
    { id: "sales", title: "Sales vs the previous period", operation: "getSalesMetrics", params: {}, viz: "kpi", position: 0 },
    { id: "live", title: "Last 60 minutes", operation: "getRealtimeMetrics", params: {}, viz: "kpi", position: 1 },
    { id: "revenue", title: "Revenue over time", operation: "getRevenueTimeseries", params: {}, viz: "line", position: 2 },
    { id: "channels", title: "Revenue by channel", operation: "getRevenueByChannel", params: {}, viz: "bar", position: 3 },
    { id: "funnel", title: "Conversion funnel", operation: "getConversionFunnel", params: {}, viz: "funnel", position: 4 },
    { id: "items", title: "Top items", operation: "getItemPerformance", params: { limit: 10 }, viz: "table", position: 5 },
    { id: "customers", title: "Customers", operation: "getCustomerMetrics", params: {}, viz: "kpi", position: 6 },
  ],
};
