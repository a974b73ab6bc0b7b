/** Temporary directories for tests, removed at the end of the run (tests/helpers/preload.ts). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** a new empty directory under the system temp dir, named pulse-<prefix>-XXXXXX */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pulse-${prefix}-`));
  made.push(dir);
  return dir;
}

/** remove every directory tempDir made (engines using them must be stopped by then) */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
