/** Republish a dead letter to <prefix>.dlq.<reason> (after its row is committed). */
import type { NatsHandle } from "../../nats/connection.ts";
import type { NewDeadLetter } from "./dead-letters.queries.ts";

const encoder = new TextEncoder();

export async function publishDeadLetter(nats: NatsHandle, row: NewDeadLetter): Promise<void> {
  // while the client reconnects a publish would wait for its ack timeout, and the HTTP answer with it
  if (!nats.link.connected) throw new Error("NATS is disconnected: the dead letter is stored, not copied to NATS");
  const body = {
    reason: row.reason,
    issues: row.issues,
    tenantid: row.tenant_id,
    id: row.event_id,
    type: row.type,
    source: row.source,
    subject: row.subject,
    transport: row.transport,
    stream_sequence: row.stream_sequence,
    payload: row.payload ?? null,
    payload_excerpt: row.payload_excerpt,
  };
  // msgID makes a republish after a crash a duplicate inside the stream's window
  const msgID = row.stream_sequence !== null ? `dlq-${row.stream_sequence}` : undefined;
  await nats.js.publish(`${nats.subjectPrefix}.dlq.${row.reason}`, encoder.encode(JSON.stringify(body)), msgID ? { msgID } : {});
}
