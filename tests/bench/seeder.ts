/**
 * Seeds benchmark events through the real ingest pipeline (as POST /v1/events does), in the batches the
 * caller hands it, counting rejects and printing progress every 10 s.
 */
import type { Deps } from "../../src/deps.ts";
import type { IncomingMessage } from "../../src/ingest/pipeline.ts";

export class PipelineSeeder {
  events = 0;
  rejected = 0;
  private readonly t0 = performance.now();
  private lastReport = this.t0;

  constructor(private readonly deps: Pick<Deps, "ingest">) {}

  /** one batch of CloudEvents of `tenant` through the pipeline */
  async ingest(tenant: string, batch: readonly Record<string, unknown>[]): Promise<void> {
    const msgs: IncomingMessage[] = batch.map((input) => ({
      input,
      expectedTenant: tenant,
      transport: "http",
      subject: null,
      stream: null,
      streamSequence: null,
    }));
    const outcomes = await this.deps.ingest.process(msgs);
    for (const o of outcomes) if (o.status === "rejected") this.rejected += 1;
    this.events += msgs.length;
    if (performance.now() - this.lastReport > 10_000) {
      this.lastReport = performance.now();
      const perSecond = Math.round(this.events / this.seconds());
      console.log(`  … seeded ${this.events.toLocaleString("en-US")} events (${perSecond.toLocaleString("en-US")}/s)`);
    }
  }

  /** seconds since the seeder was made */
  seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** what the benches print: time, events, rejected */
  result(): { seconds: number; events: number; rejected: number } {
    return { seconds: this.seconds(), events: this.events, rejected: this.rejected };
  }
}
