/**
 * ISO 4217 helpers backed by the runtime's Intl data (no hand-made table):
 *   isCurrency("USD") → true; minorExponent("JPY") → 0; majorToMinor(12.5, "USD") → 1250.
 * majorToMinor is exact: it works on the number's shortest decimal string, never on float products.
 */

let known: ReadonlySet<string> | undefined;
const CODE = /^[A-Z]{3}$/;

/** an uppercase three-letter code the runtime knows as a currency */
export function isCurrency(code: unknown): code is string {
  if (typeof code !== "string" || !CODE.test(code)) return false;
  known ??= new Set(Intl.supportedValuesOf("currency"));
  return known.has(code);
}

const exponents = new Map<string, number>();

/** digits after the decimal point in the currency's minor unit (USD/EUR 2, JPY 0, KWD 3); throws RangeError for an unknown code */
export function minorExponent(code: string): number {
  const cached = exponents.get(code);
  if (cached !== undefined) return cached;
  if (!isCurrency(code)) throw new RangeError(`not an ISO 4217 currency code: ${JSON.stringify(code)}`);
  const digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits;
  const exponent = digits ?? 2;
  exponents.set(code, exponent);
  return exponent;
}

/** why an amount cannot be expressed in a currency's minor unit; the ingest pipeline turns it into invalid_data */
export class MoneyConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MoneyConversionError";
  }
}

// String(n) of a finite number: "12.5", "1500", "1e-7", "1.5e+21", "-0.25"
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * An amount in major units (12.5 USD) → an integer in minor units (1250), exactly: the number's shortest
 * round-trip decimal string is shifted by the currency's exponent. Throws MoneyConversionError when
 * the amount has more fraction digits than the currency allows (12.345 USD), is not finite, or does
 * not fit a safe integer; RangeError when the currency is unknown.
 */
export function majorToMinor(amount: number, code: string): number {
  const exponent = minorExponent(code);
  if (typeof amount !== "number" || !Number.isFinite(amount)) throw new MoneyConversionError("must be a finite number");
  const m = DECIMAL.exec(String(amount));
  if (!m) throw new MoneyConversionError(`cannot read ${String(amount)} as a decimal`);
  const negative = m[1] === "-";
  const intPart = m[2] ?? "0";
  const fracPart = m[3] ?? "";
  const exp10 = m[4] ? Number.parseInt(m[4], 10) : 0;
  // value = digits × 10^(scale); minor = digits × 10^(scale + exponent)
  let digits = intPart + fracPart;
  const shift = exp10 - fracPart.length + exponent;
  if (shift >= 0) {
    digits += "0".repeat(shift);
  } else {
    const keep = digits.length + shift;
    const dropped = keep > 0 ? digits.slice(keep) : digits;
    if (/[^0]/.test(dropped)) {
      throw new MoneyConversionError(
        `${String(amount)} has more fraction digits than ${code} allows (${exponent === 0 ? "none" : `at most ${exponent}`})`,
      );
    }
    digits = keep > 0 ? digits.slice(0, keep) : "0";
  }
  const big = BigInt(digits);
  if (big > MAX_SAFE) throw new MoneyConversionError(`${String(amount)} ${code} exceeds the largest safe integer in minor units`);
  const minor = Number(big);
  return negative && minor !== 0 ? -minor : minor;
}
