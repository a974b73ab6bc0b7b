/**
 * Generates the TypeScript client types from an OpenAPI document (openapi-typescript) and type-checks
 * calls.ts against them strictly (TypeScript 5, this folder's own dependencies).
 *
 *   bun run client:generate -- --url http://localhost:3010/openapi.json
 *
 * tests/e2e/generated-client.test.ts does the same against the service it starts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const bin = (name: string) => join(here, "node_modules", ".bin", name);

export interface Generated {
  /** lines of generated/pulse.d.ts */
  lines: number;
  /** tsc's exit code and diagnostics for calls.ts */
  typecheck: { exitCode: number; output: string };
}

async function run(cmd: string[]): Promise<{ exitCode: number; output: string }> {
  const proc = Bun.spawn(cmd, { cwd: here, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { exitCode: await proc.exited, output: `${out}${err}`.trim() };
}

export async function generateClient(spec: unknown): Promise<Generated> {
  const dir = join(here, "generated");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "openapi.json"), JSON.stringify(spec, null, 2));
  const gen = await run([bin("openapi-typescript"), join(dir, "openapi.json"), "--output", join(dir, "pulse.d.ts")]);
  if (gen.exitCode !== 0) throw new Error(`openapi-typescript failed (${gen.exitCode}): ${gen.output}`);
  const lines = (await Bun.file(join(dir, "pulse.d.ts")).text()).split("\n").length;
  const typecheck = await run([bin("tsc"), "-p", join(here, "tsconfig.json")]);
  return { lines, typecheck };
}

if (import.meta.main) {
  const i = process.argv.indexOf("--url");
  const url = i > 0 ? process.argv[i + 1] : "http://localhost:3010/openapi.json";
  const spec = await (await fetch(url!)).json();
  const g = await generateClient(spec);
  process.stdout.write(`generated/pulse.d.ts: ${g.lines} lines; tsc --strict: ${g.typecheck.exitCode === 0 ? "ok" : g.typecheck.output}\n`);
  process.exit(g.typecheck.exitCode);
}
