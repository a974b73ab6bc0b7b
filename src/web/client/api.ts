/**
 * Talking to the API: the bearer token lives in sessionStorage (no cookies, so no CSRF), goes out as
 * the Authorization header, and never into a URL. The live stream is read with fetch (a streaming
 * body), since EventSource cannot send the header.
 */
const KEY = "pulse.token";

export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export interface Problem {
  status: number;
  title?: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<{ body: T; res: Response }> {
  const headers = new Headers(init.headers);
  const t = token.get();
  if (t) headers.set("authorization", `Bearer ${t}`);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  const res = await fetch(path, { ...init, headers, credentials: "omit", cache: "no-store" });
  if (res.status === 401) {
    token.clear();
    location.hash = "#/signin";
  }
  const text = res.status === 204 ? "" : await res.text();
  if (!res.ok) {
    let p: Problem = { status: res.status };
    try {
      p = { ...(JSON.parse(text) as Problem), status: res.status };
    } catch {
      // not problem+json
    }
    throw new ApiError(p);
  }
  return { body: (text ? JSON.parse(text) : undefined) as T, res };
}

export interface LiveMessage {
  event: string;
  id?: string;
  data?: string;
}

/** read a server-sent event stream with fetch until `signal` aborts; reconnects after a drop */
export async function live(
  path: string,
  onMessage: (m: LiveMessage) => void,
  onState: (s: "open" | "retrying" | "closed") => void,
  signal: AbortSignal,
): Promise<void> {
  let retry = 3_000;
  while (!signal.aborted) {
    try {
      const res = await fetch(path, {
        headers: { authorization: `Bearer ${token.get() ?? ""}`, accept: "text/event-stream" },
        signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (!res.ok || !res.body) {
        onState("closed");
        if (res.status === 401 || res.status === 403 || res.status === 404) return;
        throw new Error(`HTTP ${res.status}`);
      }
      onState("open");
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m: LiveMessage = { event: "message" };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) m.event = "heartbeat";
            const i = line.indexOf(":");
            const k = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (k === "event") m.event = v;
            else if (k === "id") m.id = v;
            else if (k === "data") m.data = m.data === undefined ? v : `${m.data}\n${v}`;
            else if (k === "retry" && /^\d+$/.test(v)) retry = Number(v);
          }
          onMessage(m);
          if (m.event === "gone") return onState("closed");
        }
      }
    } catch {
      if (signal.aborted) break;
    }
    onState("retrying");
    await new Promise((r) => setTimeout(r, retry));
  }
  onState("closed");
}
