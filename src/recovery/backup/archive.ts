/**
 * The backup file of the embedded engine, one file:
 *
 *   PULSE-EMBEDDED-BACKUP 1\n
 *   <manifest: one line of JSON>\n
 *   <payload: the data dir as a gzipped tar (PGlite's dumpDataDir)>
 *
 * The manifest holds what the source held (backup.queries.ts) and the payload's size and SHA-256, so a
 * damaged or truncated file is told apart from a good one before anything is restored from it.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Manifest } from "./backup.queries.ts";

const MAGIC = "PULSE-EMBEDDED-BACKUP 1";

export interface BackupManifest extends Manifest {
  format: typeof MAGIC;
  created_at: string;
  data_dir: string;
  payload: { bytes: number; sha256: string; encoding: "tar+gzip" };
}

export class BackupFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupFileError";
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** write the file atomically (a temporary file, then a rename): a crash never leaves half a backup under the name */
export function writeArchive(path: string, manifest: Omit<BackupManifest, "format" | "payload">, payload: Uint8Array): BackupManifest {
  const full: BackupManifest = {
    format: MAGIC,
    ...manifest,
    payload: { bytes: payload.byteLength, sha256: sha256(payload), encoding: "tar+gzip" },
  };
  const head = new TextEncoder().encode(`${MAGIC}\n${JSON.stringify(full)}\n`);
  const out = new Uint8Array(head.byteLength + payload.byteLength);
  out.set(head, 0);
  out.set(payload, head.byteLength);
  const tmp = `${path}.partial-${process.pid}`;
  writeFileSync(tmp, out);
  renameSync(tmp, path);
  return full;
}

export interface ReadArchive {
  manifest: BackupManifest;
  payload: Uint8Array<ArrayBuffer>;
  /** what is wrong with the payload (size, SHA-256), empty when it is what the manifest says */
  damage: string[];
}

/** read a backup file; a file that is not one (or whose manifest cannot be read) ⇒ BackupFileError */
export function readArchive(path: string): ReadArchive {
  const bytes = new Uint8Array(readFileSync(path));
  const first = bytes.indexOf(0x0a);
  const second = first < 0 ? -1 : bytes.indexOf(0x0a, first + 1);
  const decoder = new TextDecoder();
  if (first < 0 || decoder.decode(bytes.subarray(0, first)) !== MAGIC) {
    throw new BackupFileError(`${path} is not a Pulse embedded backup (it does not start with "${MAGIC}")`);
  }
  if (second < 0) throw new BackupFileError(`${path}: the manifest line is cut off`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(decoder.decode(bytes.subarray(first + 1, second))) as BackupManifest;
  } catch (err) {
    throw new BackupFileError(`${path}: the manifest is not valid JSON (${(err as Error).message})`);
  }
  if (!manifest.payload || typeof manifest.payload.sha256 !== "string" || !manifest.tables || !manifest.checksums) {
    throw new BackupFileError(`${path}: the manifest lacks payload, tables or checksums`);
  }
  const payload = bytes.slice(second + 1);
  const damage: string[] = [];
  if (payload.byteLength !== manifest.payload.bytes)
    damage.push(`payload is ${payload.byteLength} bytes; the manifest says ${manifest.payload.bytes}`);
  const actual = sha256(payload);
  if (actual !== manifest.payload.sha256) damage.push(`payload SHA-256 is ${actual}; the manifest says ${manifest.payload.sha256}`);
  return { manifest, payload, damage };
}
