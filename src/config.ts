/**
 * The only reader of process.env. One zod parse; a bad value becomes a ConfigError whose message
 * names the variable and says why, and main.ts turns that into one log line and exit code 1.
 *
 * The configuration is a list of sections (SECTIONS; one file each in src/config/): each owns its
 * variables (zod, with bounds and defaults), the slice of Config they become, and the checks that span
 * variables. A new feature adds a section of its own and lists it here; Config is the sum of the slices.
 */
import { z } from "zod";
import { analytics } from "./config/analytics.ts";
import { auth } from "./config/auth.ts";
import { cache } from "./config/cache.ts";
import { dashboards } from "./config/dashboards.ts";
import { db } from "./config/db.ts";
import { exportsSection } from "./config/exports.ts";
import { health } from "./config/health.ts";
import { ingest } from "./config/ingest.ts";
import { jobs } from "./config/jobs.ts";
import { log } from "./config/log.ts";
import { nats } from "./config/nats.ts";
import { pricing } from "./config/pricing.ts";
import { recovery } from "./config/recovery.ts";
import type { Base, Section, Vars } from "./config/section.ts";
import { security } from "./config/security.ts";
import { server } from "./config/server.ts";
import { storage } from "./config/storage.ts";

/** every section, in the order its variables are checked and reported */
const SECTIONS = [
  server,
  db,
  jobs,
  nats,
  ingest,
  storage,
  cache,
  analytics,
  pricing,
  dashboards,
  log,
  auth,
  health,
  security,
  exportsSection,
  recovery,
] as const;

type AnySection = Section<Vars, unknown>;
type SliceOf<S> = S extends Section<Vars, infer C> ? C : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

export type { Role } from "./config/server.ts";
export type { JobsMode } from "./config/jobs.ts";
export type { ExportsStorageDriver } from "./config/exports.ts";
/** the sum of the sections' slices */
export type Config = Intersection<SliceOf<(typeof SECTIONS)[number]>>;

function baseOf(e: Record<string, unknown>): Base {
  return { nodeEnv: e.NODE_ENV as Base["nodeEnv"], embedded: !e.DATABASE_URL };
}

const schema = z.object(Object.assign({}, ...SECTIONS.map((s) => s.vars)) as Vars).superRefine((e, ctx) => {
  for (const s of SECTIONS as readonly AnySection[]) s.check?.(e, baseOf(e), ctx);
});

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly variables: string[],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parse an environment (process.env by default). Throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "?"), message: i.message }));
    const message = problems.map((p) => `${p.variable}: ${p.message}`).join("; ");
    throw new ConfigError(
      `invalid configuration: ${message}`,
      problems.map((p) => p.variable),
    );
  }
  const e = parsed.data;
  const base = baseOf(e);
  return Object.assign({}, ...(SECTIONS as readonly AnySection[]).map((s) => s.read(e, base))) as Config;
}

/** The process environment, for code that must hand it on to a child process (the only other use). */
export function processEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** loadConfig for entry points: a ConfigError becomes one fatal line (via `report`) and exit code 1 */
export function loadConfigOrExit(
  report: (fields: Record<string, unknown>, message: string) => void,
  exit: (code: number) => never,
): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      report({ variables: err.variables }, err.message);
      return exit(1);
    }
    throw err;
  }
}
