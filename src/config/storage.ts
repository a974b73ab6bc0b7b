/** Storage: how long events are kept and when their chunks are compressed. */
import { int, section } from "./section.ts";

export const storage = section({
  vars: {
    RETENTION_DAYS: int(1, 36_500).default(90),
    COMPRESS_AFTER_DAYS: int(1, 3_650).default(7),
  },
  read: (e) => ({ storage: { retentionDays: e.RETENTION_DAYS, compressAfterDays: e.COMPRESS_AFTER_DAYS } }),
});
