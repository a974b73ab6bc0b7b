/**
 * Order lines of an order.completed event as rows of `order_lines`, with the order discount shared
 * out over the lines so that Σ net_line_minor = Σ line_minor − discount_minor = total_minor.
 *
 * Shares are proportional to line_minor (quantity × unit_price_minor); the whole minor units left
 * over by flooring go one each to the lines with the largest remainders, ties to the earlier line
 * (the largest-remainder method). Integer arithmetic only (BigInt for the products).
 */

export interface OrderLineRow {
  line_no: number;
  item_id: string;
  quantity: number;
  unit_price_minor: number;
  line_minor: number;
  net_line_minor: number;
}

export function allocateDiscount(lineMinors: number[], discountMinor: number): number[] {
  const total = lineMinors.reduce((a, b) => a + b, 0);
  if (discountMinor <= 0 || total <= 0) return lineMinors.map(() => 0);
  const d = BigInt(Math.min(discountMinor, total));
  const t = BigInt(total);
  const shares = lineMinors.map((m) => (d * BigInt(m)) / t);
  const remainders = lineMinors.map((m, i) => ({ i, r: (d * BigInt(m)) % t }));
  let left = Number(d - shares.reduce((a, b) => a + b, 0n));
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left <= 0) break;
    shares[i] = shares[i]! + 1n;
    left -= 1;
  }
  return shares.map(Number);
}

/** the lines of a stored order.completed row (props.lines, props.discount_minor); [] when none */
export function orderLines(props: Record<string, unknown>): OrderLineRow[] {
  const raw = Array.isArray(props.lines) ? (props.lines as Array<Record<string, unknown>>) : [];
  const lines = raw.map((l, i) => {
    const quantity = Number(l.quantity);
    const unit = Number(l.unit_price_minor);
    return { line_no: i + 1, item_id: String(l.item_id), quantity, unit_price_minor: unit, line_minor: quantity * unit };
  });
  const discount = typeof props.discount_minor === "number" ? props.discount_minor : 0;
  const shares = allocateDiscount(
    lines.map((l) => l.line_minor),
    discount,
  );
  return lines.map((l, i) => ({ ...l, net_line_minor: l.line_minor - shares[i]! }));
}
