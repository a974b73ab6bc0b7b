/**
 * NATS connection (reconnecting forever) and the JetStream stream ANALYTICS, created or updated to
 * match the configuration on every start.
 */
import {
  connect,
  type JetStreamClient,
  type JetStreamManager,
  nanos,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  DiscardPolicy,
} from "nats";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";

export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjectPrefix: string;
  /**
   * the link as the client's status events last reported it: while disconnected (the client
   * reconnects forever) readiness says so at once instead of waiting for a request to time out
   */
  link: { connected: boolean; since: number };
}

export async function connectNats(cfg: Config["nats"], logger: Logger): Promise<NatsHandle> {
  if (!cfg.url) throw new Error("NATS_URL is not set");
  const log = logger.child({ component: "nats" });
  const nc = await connect({
    servers: cfg.url,
    name: "pulse",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    timeout: 5_000,
  });
  const link = { connected: true, since: Date.now() };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") Object.assign(link, { connected: false, since: Date.now() });
      else if (s.type === "reconnect") Object.assign(link, { connected: true, since: Date.now() });
      if (s.type === "disconnect" || s.type === "error") log.warn({ type: s.type, data: String(s.data) }, "NATS connection status");
      else if (s.type === "reconnect") log.info({ server: String(s.data) }, "NATS reconnected");
    }
  })();
  const jsm = await nc.jetstreamManager({ timeout: 5_000 });
  await ensureStream(jsm, cfg, log);
  return { nc, js: nc.jetstream(), jsm, stream: cfg.stream, subjectPrefix: cfg.subjectPrefix, link };
}

export async function ensureStream(jsm: JetStreamManager, cfg: Config["nats"], log: Logger): Promise<void> {
  const desired = {
    name: cfg.stream,
    subjects: [`${cfg.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(cfg.duplicateWindowMs),
    max_age: nanos(cfg.maxAgeMs),
    max_bytes: cfg.maxBytes,
    num_replicas: cfg.replicas,
    max_msg_size: 1024 * 1024,
  };
  try {
    await jsm.streams.info(cfg.stream);
    await jsm.streams.update(cfg.stream, desired);
    log.debug({ stream: cfg.stream }, "JetStream stream updated");
  } catch (err) {
    if ((err as { code?: string }).code !== "404" && !/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(desired);
    log.info({ stream: cfg.stream }, "JetStream stream created");
  }
}

/** a connection an api process is still waiting for (NATS did not answer when it started) */
export interface NatsPending {
  since: number;
  attempts: number;
  lastError: string;
  /** stop trying (shutdown) */
  stop(): void;
}

/**
 * Keep trying connectNats every `everyMs` until it succeeds, then hand the connection to
 * `onConnected`. For the api role: NATS only carries copies of HTTP ingest's dead letters there, so
 * an api starts and serves without it (a worker or all fails its start instead: its consumer needs it).
 */
export function connectNatsLater(
  cfg: Config["nats"],
  logger: Logger,
  first: unknown,
  onConnected: (h: NatsHandle) => void,
  everyMs = 2_000,
): NatsPending {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending: NatsPending = {
    since: Date.now(),
    attempts: 1,
    lastError: first instanceof Error ? first.message : String(first),
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
  const attempt = (): void => {
    timer = undefined;
    pending.attempts += 1;
    connectNats(cfg, logger).then(
      (h) => {
        if (stopped) void closeNats(h);
        else {
          logger.info({ component: "nats", attempts: pending.attempts, waited_ms: Date.now() - pending.since }, "NATS connected");
          onConnected(h);
        }
      },
      (err: unknown) => {
        pending.lastError = err instanceof Error ? err.message : String(err);
        if (!stopped) timer = setTimeout(attempt, everyMs);
      },
    );
  };
  timer = setTimeout(attempt, everyMs);
  return pending;
}

export async function closeNats(h: NatsHandle): Promise<void> {
  if (!h.nc.isClosed()) await h.nc.drain().catch(() => h.nc.close());
}
