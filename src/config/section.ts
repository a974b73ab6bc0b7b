/**
 * One section of the configuration (src/config.ts lists them): its environment variables (zod, with
 * bounds and defaults), the slice of Config they become, and the checks that span variables. The
 * variable types every section uses are here too.
 */
import { z } from "zod";

export const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes");
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

/** what any section may read besides its own variables */
export interface Base {
  nodeEnv: "development" | "production" | "test";
  /** no DATABASE_URL: the embedded TimescaleDB */
  embedded: boolean;
}

export type Vars = z.core.$ZodShape;
type Env<V extends Vars> = z.output<z.ZodObject<V>>;

export interface Section<V extends Vars, C> {
  vars: V;
  /** this section's slice of Config */
  read(e: Env<V>, base: Base): C;
  /** checks that span variables (issues name the variable at fault) */
  check?(e: Env<V>, base: Base, ctx: z.RefinementCtx): void;
}

export function section<V extends Vars, C>(s: Section<V, C>): Section<V, C> {
  return s;
}

/** comma-separated entries, trimmed, empty ones dropped, each checked by `entry` */
export function list(entry: z.ZodType<string, string>, normalise: (v: string) => string = (v) => v) {
  return optionalString.pipe(
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((x) => normalise(x.trim()))
          .filter(Boolean),
      )
      .pipe(z.array(entry))
      .optional(),
  );
}
