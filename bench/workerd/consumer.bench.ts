import { env } from "cloudflare:test";
import { it } from "vitest";
import { runAtomically } from "../../src/d1";
import { directoryWrites } from "../../src/directory/writes";
import { recordOutcomes } from "../../src/consumer/event-log";
import { deliverBatch } from "../../test/support/consumer";
import { countingD1 } from "../../test/support/d1";
import { eventMessage, mixedBatch } from "../../test/support/directory";
import { report } from "./measure";

/**
 * The consumer applying a 100-event batch (users, groups, memberships, updates, deletes) to D1,
 * against a naive consumer that commits each event on its own (one D1 round trip per event).
 */
it("consumer batch", async () => {
  const samples = 9;
  const batched: number[] = [];
  const naive: number[] = [];
  let roundTrips = 0;
  let rows = { read: 0, written: 0 };
  for (let s = 0; s < samples + 1; s++) {
    const d1 = countingD1(env.DB);
    const messages = mixedBatch(`b${s}_`).map((event) => eventMessage(event));
    const start = performance.now();
    const { result } = await deliverBatch(messages, { env: { ...env, DB: d1.db } });
    const elapsed = performance.now() - start;
    if (result.retryMessages.length) throw new Error("batch failed");
    if (s === 0) continue; // warm-up
    batched.push(elapsed);
    roundTrips = d1.roundTrips();
    rows = d1.rows();

    const naiveEvents = mixedBatch(`n${s}_`);
    const naiveStart = performance.now();
    for (const event of naiveEvents) {
      const message = eventMessage(event);
      await runAtomically(env.DB, [...directoryWrites([event], Date.now()), ...recordOutcomes([{ message, attempts: 1, note: null }], Date.now())]);
    }
    naive.push(performance.now() - naiveStart);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const spread = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p25: sorted[Math.floor(sorted.length / 4)]!, p75: sorted[Math.floor((sorted.length * 3) / 4)]! };
  };
  await report("consumer", {
    events: 100,
    samples,
    roundTripsPerBatch: roundTrips,
    d1RowsPerBatch: rows,
    batchedMs: { median: median(batched), ...spread(batched) },
    naiveMs: { median: median(naive), ...spread(naive) },
    naiveRoundTripsPerBatch: 100,
  });
}, 180_000);
