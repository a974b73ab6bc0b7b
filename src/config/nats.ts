/** NATS JetStream: the connection and the stream events arrive on. */
import { z } from "zod";
import { int, optionalString, section } from "./section.ts";

export const nats = section({
  vars: {
    NATS_URL: optionalString.pipe(z.url({ protocol: /^(nats|tls|wss?)$/ }).optional()),
    NATS_STREAM: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("ANALYTICS"),
    NATS_SUBJECT_PREFIX: z
      .string()
      .regex(/^[a-z0-9_-]+$/, "lowercase letters, digits, _ and - only")
      .default("analytics"),
    NATS_DUPLICATE_WINDOW_MS: int(1_000, 86_400_000).default(120_000),
    NATS_STREAM_MAX_AGE_MS: int(0, 365 * 86_400_000).default(7 * 86_400_000),
    NATS_STREAM_MAX_BYTES: z.coerce.number().int().min(-1).default(-1),
    NATS_STREAM_REPLICAS: int(1, 5).default(1),
  },
  read: (e) => ({
    nats: {
      url: e.NATS_URL,
      stream: e.NATS_STREAM,
      /** subjects are <prefix>.<tenantid>.<type>; dead letters go to <prefix>.dlq.<reason> */
      subjectPrefix: e.NATS_SUBJECT_PREFIX,
      duplicateWindowMs: e.NATS_DUPLICATE_WINDOW_MS,
      maxAgeMs: e.NATS_STREAM_MAX_AGE_MS,
      maxBytes: e.NATS_STREAM_MAX_BYTES,
      replicas: e.NATS_STREAM_REPLICAS,
    },
  }),
});
