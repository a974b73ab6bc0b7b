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

export async function closeNats(h: NatsHandle): Promise<void> {
  if (!h.nc.isClosed()) await h.nc.drain().catch(() => h.nc.close());
}
