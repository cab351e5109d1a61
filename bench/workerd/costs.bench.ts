import { env } from "cloudflare:test";
import { it } from "vitest";
import { deliverBatch } from "../../test/support/consumer";
import { countingD1 } from "../../test/support/d1";
import { signedHeaders } from "../../test/support/sign";
import { scalekitEvent, scalekitUser } from "../../test/support/scalekit";
import { callApp } from "../../test/support/worker";
import { report } from "./measure";

/**
 * Billable operations per delivered event, counted on the real code path: 200 unique signed
 * deliveries through the Worker with KV and the Queue metered, then the queued messages through
 * the consumer with D1's rows metered. Done with the KV fast path on and off.
 */
function countingKv(real: KVNamespace) {
  const counts = { reads: 0, writes: 0 };
  const kv = {
    get: (key: string) => {
      counts.reads++;
      return real.get(key);
    },
    put: (...args: Parameters<KVNamespace["put"]>) => {
      counts.writes++;
      return real.put(...args);
    },
  } as unknown as KVNamespace;
  return { kv, counts };
}

it("billable operations per event", async () => {
  const results = [];
  for (const dedupe of ["on", "off"] as const) {
    const deliveries = 200;
    const { kv, counts } = countingKv(env.SEEN_EVENTS);
    // Recorded, not forwarded: the consumer below is the only one that sees these messages.
    const sent: unknown[] = [];
    const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    let requests = 0;
    for (let i = 0; i < deliveries; i++) {
      const body = JSON.stringify(scalekitEvent("user_updated", scalekitUser({ id: `cost_${dedupe}_${i % 50}`, given_name: `v${i}` })));
      const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body, headers: await signedHeaders(body) }), {
        SEEN_EVENTS: kv,
        EVENTS_QUEUE: queue,
        DEDUPE_KV: dedupe,
      });
      requests++;
      if (response.status !== 202) throw new Error(`unexpected ${response.status}`);
    }
    const d1 = countingD1(env.DB);
    let consumerInvocations = 0;
    for (let i = 0; i < sent.length; i += 100) {
      await deliverBatch(sent.slice(i, i + 100), { env: { ...env, DB: d1.db } });
      consumerInvocations++;
    }
    results.push({
      dedupeKv: dedupe,
      deliveries,
      perEvent: {
        workerRequests: (requests + consumerInvocations) / deliveries,
        queueMessages: sent.length / deliveries,
        kvReads: counts.reads / deliveries,
        kvWrites: counts.writes / deliveries,
        d1RowsRead: d1.rows().read / deliveries,
        d1RowsWritten: d1.rows().written / deliveries,
      },
    });
  }
  await report("costs", results);
}, 180_000);
