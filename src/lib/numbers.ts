/**
 * Exact numbers for JSON answers: database bigints out as JSON numbers, and the half-up roundings every
 * definition uses ("rounded half-up" in an operation's description means these functions).
 */

/** bigint → JSON number; throws RangeError beyond 2^53 − 1 (never a silently rounded amount) */
export function int(v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
}

/** int(), with null kept */
export function intOrNull(v: bigint | null): number | null {
  return v === null ? null : int(v);
}

/** a / b rounded half away from zero (b > 0) */
export function divHalfUp(a: bigint, b: bigint): bigint {
  const sign = a < 0n ? -1n : 1n;
  const abs = a * sign;
  return sign * ((2n * abs + b) / (2n * b));
}

/** x rounded half away from zero */
export function roundHalfUp(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** a / b rounded half-up to 4 decimal places; 0 when b = 0 */
export function ratio(a: number, b: number): number {
  if (b === 0) return 0;
  return Math.round((a * 10_000) / b) / 10_000;
}
