/**
 * The web app's bundle: src/web/client/main.ts (TypeScript, uPlot and the CSS it imports) bundled by
 * Bun's bundler into one script and one stylesheet, in memory, once per process (the first request to
 * /app, or main.ts at start-up). Names carry a content hash, so browsers may cache them for good.
 * Bun only: under Deno /app answers 503 (the API is unaffected).
 */
import { createHash } from "node:crypto";

export interface WebAsset {
  name: string;
  type: string;
  body: Uint8Array;
  etag: string;
}

export interface WebBundle {
  script: WebAsset;
  style: WebAsset;
  ms: number;
}

const ENTRY = new URL("./client/main.ts", import.meta.url).pathname;

let built: Promise<WebBundle> | undefined;

declare const Bun:
  | {
      build(opts: Record<string, unknown>): Promise<{
        success: boolean;
        logs: unknown[];
        outputs: Array<{ path: string; kind: string; arrayBuffer(): Promise<ArrayBuffer> }>;
      }>;
    }
  | undefined;

async function build(): Promise<WebBundle> {
  if (typeof Bun === "undefined") throw new Error("the web app is bundled by Bun: run the service with Bun to serve /app");
  const started = performance.now();
  const out = await Bun.build({ entrypoints: [ENTRY], target: "browser", minify: true, sourcemap: "none", naming: "[name]-[hash].[ext]" });
  if (!out.success) throw new Error(`the web app did not build: ${out.logs.map(String).join("; ")}`);
  const assets: WebAsset[] = [];
  for (const o of out.outputs) {
    const body = new Uint8Array(await o.arrayBuffer());
    const name = o.path.split("/").pop()!;
    const type = name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    assets.push({ name, type, body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
  }
  const script = assets.find((a) => a.name.endsWith(".js"));
  const style = assets.find((a) => a.name.endsWith(".css"));
  if (!script || !style)
    throw new Error(`the web app build gave ${assets.map((a) => a.name).join(", ")}: expected a script and a stylesheet`);
  return { script, style, ms: Math.round(performance.now() - started) };
}

/** the bundle (built on first call; a failed build is tried again at the next call) */
export function webBundle(): Promise<WebBundle> {
  built ??= build().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}
