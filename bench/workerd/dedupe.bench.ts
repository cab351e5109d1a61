import { env } from "cloudflare:test";
import { it, vi } from "vitest";
import { deliverBatch } from "../../test/support/consumer";
import { signedHeaders } from "../../test/support/sign";
import { scalekitEvent, scalekitUser } from "../../test/support/scalekit";
import { callApp } from "../../test/support/worker";
import { report } from "./measure";
import { countingCache, countingKv, meteredD1 } from "./metering";

/**
 * What the dedupe fast path (DEDUPE_KV) saves against what it costs, at realistic duplicate rates.
 * For each mode: 1,000 unique signed events through the Worker, applied by the consumer; then a
 * provider retry (fresh webhook id, timestamp and signature, as a retry after a lost acknowledgement
 * arrives) of every 1,000th, 100th and 10th of them: duplicate rates of 0.1%, 1% and 10%, nested,
 * so one run per mode measures all three. Counted on the real path: KV reads and writes, Cache API
 * calls, queue messages, and the consumer's D1 rows for the duplicates that got past the edge.
 * Priced in bench/run.ts. Everything here runs in one location, so `cache` stops every duplicate:
 * an upper bound on what it stops in production (see BENCHMARKS.md).
 */
const UNIQUE = 1000;
const RATES = [0.001, 0.01, 0.1];
const MODES = ["cache", "kv", "off"] as const;
/** max_batch_size of the directory-events consumer in wrangler.toml. */
const BATCH_SIZE = 100;

function capturingQueue() {
  const sent: unknown[] = [];
  return { sent, queue: { send: async (body: unknown) => void sent.push(body) } as unknown as Queue };
}

async function deliver(body: string, overrides: Partial<Env>): Promise<number> {
  const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body, headers: await signedHeaders(body) }), overrides);
  if (response.status !== 200 && response.status !== 202) throw new Error(`unexpected ${response.status}`);
  return response.status;
}

async function consume(messages: unknown[], db: D1Database = env.DB) {
  for (let i = 0; i < messages.length; i += BATCH_SIZE) await deliverBatch(messages.slice(i, i + BATCH_SIZE), { env: { ...env, DB: db } });
}

/** What one step cost: fast-path calls, and for the copies that got past the edge, queue and D1. */
interface Step {
  deliveries: number;
  stoppedAtEdge: number;
  kv: { reads: number; writes: number };
  cache: { matches: number; puts: number };
  queueMessages: number;
  d1: { read: number; written: number };
}

const sum = (steps: Step[]): Step =>
  steps.reduce((total, step) => ({
    deliveries: total.deliveries + step.deliveries,
    stoppedAtEdge: total.stoppedAtEdge + step.stoppedAtEdge,
    kv: { reads: total.kv.reads + step.kv.reads, writes: total.kv.writes + step.kv.writes },
    cache: { matches: total.cache.matches + step.cache.matches, puts: total.cache.puts + step.cache.puts },
    queueMessages: total.queueMessages + step.queueMessages,
    d1: { read: total.d1.read + step.d1.read, written: total.d1.written + step.d1.written },
  }));

it("the dedupe fast path at duplicate rates 0.1%, 1%, 10%", async () => {
  const results = [];
  for (const mode of MODES) {
    const prefix = `dedupe_${mode}`;
    const bodies = Array.from({ length: UNIQUE }, (_, i) =>
      JSON.stringify(scalekitEvent("user_updated", scalekitUser({ id: `${prefix}_${i}`, given_name: `v${i}` }), { id: `evt_${prefix}_${i}` })),
    );
    const { kv, counts: kvCounts } = countingKv(env.SEEN_EVENTS);
    const real = caches;
    const cacheCounts = { matches: 0, puts: 0 };
    vi.stubGlobal("caches", { open: async (name: string) => countingCache(await real.open(name), cacheCounts) });
    const overrides = { SEEN_EVENTS: kv, DEDUPE_KV: mode };
    /** Delivers `batch` and consumes what got queued, metered. */
    const step = async (batch: string[], d1 = meteredD1(env.DB)): Promise<Step> => {
      const kvBefore = { ...kvCounts };
      const cacheBefore = { ...cacheCounts };
      const queued = capturingQueue();
      let stoppedAtEdge = 0;
      for (const body of batch) if ((await deliver(body, { ...overrides, EVENTS_QUEUE: queued.queue })) === 200) stoppedAtEdge++;
      await consume(queued.sent, d1.db);
      return {
        deliveries: batch.length,
        stoppedAtEdge,
        kv: { reads: kvCounts.reads - kvBefore.reads, writes: kvCounts.writes - kvBefore.writes },
        cache: { matches: cacheCounts.matches - cacheBefore.matches, puts: cacheCounts.puts - cacheBefore.puts },
        queueMessages: queued.sent.length,
        d1: d1.rows(),
      };
    };
    try {
      // The originals, queued and applied: the consumer has seen them before any retry arrives.
      const originals = await step(bodies);
      // The retries, smallest rate first; each rate's set holds the smaller one's.
      const retries: Step[] = [];
      let previous = new Set<number>();
      for (const rate of RATES) {
        const chosen = new Set(bodies.flatMap((_, i) => (i % Math.round(1 / rate) === 0 ? [i] : [])));
        retries.push(await step([...chosen].filter((i) => !previous.has(i)).map((i) => bodies[i]!)));
        previous = chosen;
        const retried = sum(retries);
        results.push({ mode, rate, unique: UNIQUE, originals, duplicates: retried });
      }
      const applied = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE event_id LIKE ? AND status = 'applied'").bind(`evt_${prefix}_%`).first<{ n: number }>();
      if (applied?.n !== UNIQUE) throw new Error(`${mode}: ${applied?.n} of ${UNIQUE} events applied`);
    } finally {
      vi.unstubAllGlobals();
    }
  }
  await report("dedupe", results);
}, 600_000);
