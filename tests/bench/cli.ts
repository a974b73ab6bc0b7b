/** Command-line flags of the benchmarks: `--name value`. */

/** the value after `--name`, or undefined */
export function stringFlag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** a positive number after `--name`, or `dflt`; anything else stops the bench with a message */
export function flag(name: string, dflt: number): number {
  const text = stringFlag(name);
  if (text === undefined) return dflt;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}
