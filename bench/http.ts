/**
 * HTTP ingest under load: a real `wrangler dev` on 127.0.0.1 (its own local state), driven by
 * autocannon from this process. Three routes in the same server, same run: a no-op baseline (an
 * unknown path: routing and a JSON 404), valid signed deliveries (each a new event), and deliveries
 * with a bad signature. Loopback only; every run is bounded in time.
 */
import { createHmac, randomUUID } from "node:crypto";
import autocannon, { type Request as LoadRequest } from "autocannon";
import { devSigningKey, startLocalWorker } from "../scripts/local-worker.ts";

const PORT = 8799;
const BASE = `http://127.0.0.1:${PORT}`;

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export async function runHttpBench(options: { seconds: number; runs: number; connections: number; vars?: Record<string, string> }) {
  const worker = await startLocalWorker({ port: PORT, state: ".wrangler/bench-state", fresh: true, vars: options.vars });
  try {
    const key = devSigningKey();
    const signed = (valid: boolean) => () => {
      const id = `msg_${randomUUID()}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        id: `evt_${randomUUID()}`,
        type: "organization.directory.user_updated",
        timestamp: new Date().toISOString(),
        data: { id: `user_${randomUUID()}`, email: "load@example.com", given_name: "Load", family_name: "Test", active: true, organization_id: "org_bench" },
      });
      const signature = valid ? createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64") : "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
      return { method: "POST" as const, path: "/webhooks/scalekit", body, headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` } };
    };
    const scenarios = {
      noop: () => ({ method: "GET" as const, path: "/no-such-route" }),
      accept: signed(true),
      reject: signed(false),
    } as const;
    const results: Record<keyof typeof scenarios, LoadResult[]> = { noop: [], accept: [], reject: [] };
    // Interleaved rounds, so drift on a shared machine hits every scenario alike.
    for (let round = 0; round <= options.runs; round++) {
      for (const [name, build] of Object.entries(scenarios) as [keyof typeof scenarios, () => Partial<LoadRequest>][]) {
        const result = await load(build, round === 0 ? 2 : options.seconds, options.connections);
        if (round > 0) results[name].push(result); // round 0 is the warm-up
      }
    }
    return results;
  } finally {
    worker.stop();
  }
}

async function load(build: () => Partial<LoadRequest>, seconds: number, connections: number): Promise<LoadResult> {
  const result = await autocannon({
    url: BASE,
    connections,
    duration: seconds,
    requests: [{ setupRequest: (request) => ({ ...request, ...build() }) }],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
