/**
 * HTTP load on a `wrangler dev` (bench/local-dev.ts) from autocannon in this process: the requests
 * (scenarios) and one bounded run of one of them, which records throughput, latency, statuses and
 * the CPU time wrangler dev's processes and this one spent meanwhile, so a figure can be per
 * response. Loopback only. bench/ingest-split.ts runs them against its servers.
 */
import { createHmac, randomUUID } from "node:crypto";
import autocannon, { type Request as LoadRequest } from "autocannon";
import { devSigningKey } from "../scripts/local-worker.ts";
import { cpuBetween, type BenchWorker, type CpuMs } from "./local-dev.ts";

/** After a run, before its CPU is read: work the Worker left in waitUntil (the fast path's mark) finishes. */
const SETTLE_MS = 250;

export interface LoadResult {
  seconds: number;
  responses: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Responses with another status than the scenario's (e.g. a 503 from a failed queue send). */
  unexpected: number;
  errors: number;
  /** CPU time spent during the run, per process role (bench/local-dev.ts). */
  cpuMs: CpuMs;
}

export interface Scenario {
  /** What every response must answer; anything else is counted in `unexpected`. */
  status: number;
  build: () => Partial<LoadRequest>;
}

/** The baseline: an unknown path (routing and a JSON 404), no body, no binding. */
export const noopScenario: Scenario = { status: 404, build: () => ({ method: "GET", path: "/no-such-route" }) };

/** A new, validly signed Scalekit event per request (answered 202), or the same shape with a wrong signature (401). */
export function signedScenario(valid: boolean): Scenario {
  const key = devSigningKey();
  return {
    status: valid ? 202 : 401,
    build: () => signedDelivery(key, { id: `evt_${randomUUID()}`, userId: `user_${randomUUID()}` }, valid),
  };
}

/**
 * Redeliveries of events already accepted (a provider's retry: a new webhook id and signature, the
 * same event id), answered 200 `duplicate` by the dedupe fast path before any queue send. Sends
 * `count` new events first, so the fast path has seen them.
 */
export async function duplicateScenario(url: string, count: number): Promise<Scenario> {
  const key = devSigningKey();
  const events = Array.from({ length: count }, () => ({ id: `evt_${randomUUID()}`, userId: `user_${randomUUID()}` }));
  for (const event of events) {
    const request = signedDelivery(key, event, true);
    const response = await fetch(`${url}${request.path}`, { method: "POST", headers: request.headers, body: request.body });
    if (response.status !== 202) throw new Error(`seeding a duplicate answered ${response.status}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000)); // the marks are written in waitUntil
  let next = 0;
  return { status: 200, build: () => signedDelivery(key, events[next++ % events.length]!, true) };
}

function signedDelivery(key: Buffer, event: { id: string; userId: string }, valid: boolean) {
  const webhookId = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    id: event.id,
    type: "organization.directory.user_updated",
    timestamp: new Date().toISOString(),
    data: { id: event.userId, email: "load@example.com", given_name: "Load", family_name: "Test", active: true, organization_id: "org_bench" },
  });
  const signature = valid ? createHmac("sha256", key).update(`${webhookId}.${timestamp}.${body}`).digest("base64") : "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  return {
    method: "POST" as const,
    path: "/webhooks/scalekit",
    body,
    headers: { "content-type": "application/json", "webhook-id": webhookId, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` },
  };
}

export interface RoundsOptions {
  seconds: number;
  runs: number;
  connections: number;
  warmUpSeconds?: number;
}

/** One run; run again (at most twice) if wrangler dev reloaded the Worker meanwhile, which voids its CPU figure. */
export async function load(worker: BenchWorker, scenario: Scenario, seconds: number, connections: number): Promise<LoadResult> {
  for (let attempt = 1; ; attempt++) {
    const before = worker.cpu();
    const result = await autocannon({
      url: worker.url,
      connections,
      duration: seconds,
      requests: [{ setupRequest: (request) => ({ ...request, ...scenario.build() }) }],
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const cpuMs = cpuBetween(before, worker.cpu());
    if (!cpuMs) {
      if (attempt === 3) throw new Error("wrangler dev kept reloading the Worker (a source file changed) during the runs");
      console.error("  wrangler dev reloaded the Worker during a run (a source file changed): running it again");
      continue;
    }
    const responses = Object.values(result.statusCodeStats ?? {}).reduce((sum, stat) => sum + (stat.count ?? 0), 0);
    const expected = result.statusCodeStats?.[`${scenario.status}`]?.count ?? 0;
    return {
      seconds,
      responses,
      requestsPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
      unexpected: responses - expected,
      errors: result.errors + result.timeouts,
      cpuMs,
    };
  }
}
