/** Number, money, share and time formatting for people (figures keep their raw value in data-value). */
const money = new Map<string, { fmt: Intl.NumberFormat; digits: number }>();

export function formatMoney(minor: number | null | undefined, currency: string): string {
  if (minor === null || minor === undefined) return "–";
  let m = money.get(currency);
  if (!m) {
    const fmt = new Intl.NumberFormat("en", { style: "currency", currency });
    m = { fmt, digits: fmt.resolvedOptions().maximumFractionDigits ?? 2 };
    money.set(currency, m);
  }
  return m.fmt.format(minor / 10 ** m.digits);
}

const int = new Intl.NumberFormat("en");
export function formatNumber(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : int.format(n);
}

export function formatShare(x: number | null | undefined): string {
  return x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`;
}

/** +12.5 % / −3.0 % / – for a growth ratio */
export function formatGrowth(x: number | null | undefined): string {
  if (x === null || x === undefined) return "–";
  const pct = (x * 100).toFixed(1);
  return x > 0 ? `+${pct} %` : x < 0 ? `−${pct.slice(1)} %` : "0.0 %";
}

const time = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });
export function formatTime(iso: string | null | undefined): string {
  return iso ? time.format(new Date(iso)) : "–";
}

/** "12 s ago", "5 min ago" */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return formatTime(iso);
}

/** a field name for people: net_minor → net, average_order_minor → average order */
export function label(field: string): string {
  return field.replace(/_minor$/, "").replaceAll("_", " ");
}
