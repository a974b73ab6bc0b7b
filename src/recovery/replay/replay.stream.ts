/**
 * The JetStream side of a replay: what the stream still holds, and an ephemeral ordered consumer that
 * re-reads it from a start time (or, for a job taken over from another runner, from the sequence after
 * the last one handled) in batches, up to the stream's last sequence when the job first ran.
 */
import { DeliverPolicy, type JsMsg, type StreamInfo } from "nats";
import type { NatsHandle } from "../../nats/connection.ts";

export interface StreamWindow {
  stream: string;
  /** the earliest time a replay can start at and find every message published since */
  earliest: Date | null;
  maxAgeMs: number;
  /** messages were removed from the head (age or size limits, a purge) */
  removed: boolean;
  lastSeq: number;
}

/** what the stream keeps: messages younger than max_age, and nothing before its first message once some were removed */
export function streamWindow(info: StreamInfo, now: Date): StreamWindow {
  const maxAgeMs = Math.round(info.config.max_age / 1e6);
  let earliest = maxAgeMs > 0 ? now.getTime() - maxAgeMs : null;
  const removed = info.state.first_seq > 1;
  if (removed) {
    // everything before the first message kept is gone (all of it when the stream is now empty)
    const head = info.state.messages > 0 ? Date.parse(info.state.first_ts) : now.getTime();
    earliest = earliest === null ? head : Math.max(earliest, head);
  }
  return {
    stream: info.config.name,
    earliest: earliest === null ? null : new Date(earliest),
    maxAgeMs,
    removed,
    lastSeq: info.state.last_seq,
  };
}

export async function readWindow(nats: NatsHandle, now = new Date()): Promise<StreamWindow> {
  return streamWindow(await nats.jsm.streams.info(nats.stream), now);
}

export interface ReadPosition {
  /** the subjects to read: `<prefix>.<tenant>.>` or `<prefix>.>` */
  filter: string;
  /** start at the first message at or after this time ... */
  startTime: Date;
  /** ... unless a previous run handled messages up to this sequence */
  resumeSeq: number | null;
  /** stop after this sequence (the stream's last when the job first ran) */
  endSeq: number;
}

/**
 * Batches of up to `max` messages, in stream order, until endSeq or the end of what the filter matches.
 * The consumer is ephemeral and ordered (no acks, no state on the server beyond the read): deleted when the
 * read ends or is abandoned.
 */
export async function* readBatches(nats: NatsHandle, pos: ReadPosition, max: number): AsyncGenerator<JsMsg[]> {
  const consumer = await nats.js.consumers.get(
    nats.stream,
    pos.resumeSeq !== null
      ? { filterSubjects: pos.filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: pos.resumeSeq + 1 }
      : { filterSubjects: pos.filter, deliver_policy: DeliverPolicy.StartTime, opt_start_time: pos.startTime.toISOString() },
  );
  try {
    for (;;) {
      const batch: JsMsg[] = [];
      let atEnd = false;
      const messages = await consumer.fetch({ max_messages: max, expires: 2_000 });
      for await (const m of messages) {
        if (m.seq <= pos.endSeq) batch.push(m);
        // past the end, or nothing more matches now: leave the fetch at once instead of waiting for it to expire
        if (m.seq >= pos.endSeq || m.info.pending === 0) {
          atEnd = true;
          break;
        }
      }
      if (batch.length > 0) yield batch;
      if (atEnd || batch.length === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
