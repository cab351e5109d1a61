/**
 * One SCIM connection at Microsoft Entra ID's documented rate, 25 requests per second, against a
 * real `wrangler dev` on 127.0.0.1 (its own local state, local D1). The connection is created
 * through the admin API, as an operator would. Then two open-loop schedules (a request every 40 ms
 * whether or not the earlier ones have answered), one after the other after a short warm-up:
 *
 * - baseline: GET /ServiceProviderConfig of the connection, the same authentication (the
 *   connection's token checked against D1) and no directory work;
 * - Entra's provisioning cycle: a `userName eq` lookup with no match, POST /Users, an
 *   `externalId eq` lookup, and a PATCH in Entra's default form (`"op": "Replace"`) of the user
 *   just created. The PATCH changes the surname and title, not `active`: deactivations are
 *   destructive, and the destructive guard's hourly budget per organization would hold most of
 *   them back, which would measure the guard, not the write path.
 *
 * Reported: the achieved rate, p50/p95/p99/max latency, failures (any other status, or no
 * answer), and how late the client itself sent (so a lagging client is visible, not hidden).
 *
 *   node bench/scim-load.ts     # this benchmark alone, as JSON (npm run bench runs it too)
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { startLocalWorker } from "../scripts/local-worker.ts";

const PORT = 8798;
export const RATE_PER_SECOND = 25;
const WARM_UP_SECONDS = 2;
/** A request that has not answered by then counts as a failure, and the schedule still ends. */
const REQUEST_TIMEOUT_MS = 10_000;
const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export interface ScheduleResult {
  requests: number;
  /** From the first send to the last answer. */
  seconds: number;
  achievedPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  failures: number;
  /** A few failures as `#index: status (expected …)`, never a body. */
  failureSamples: string[];
  /** The most any request was sent after its scheduled time. */
  clientLagMaxMs: number;
}

export interface ScimLoadResult {
  seconds: number;
  baseline: ScheduleResult;
  entra: ScheduleResult;
}

const createdConnection = z.object({ base_url: z.url(), token: z.string().startsWith("scimtok_") });
const listResponse = z.object({ totalResults: z.number().int() });
const createdUser = z.object({ id: z.string().min(1) });

export async function runScimLoadBench(options: { seconds: number }): Promise<ScimLoadResult> {
  // A fresh admin token for this run only, passed to wrangler dev like any var.
  const adminToken = randomBytes(24).toString("hex");
  const worker = await startLocalWorker({ port: PORT, state: ".wrangler/bench-scim-state", fresh: true, vars: { ADMIN_TOKEN: adminToken } });
  try {
    const response = await fetch(`${worker.url}/admin/scim-connections`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ organization_id: "org_bench_scim", name: "npm run bench" }),
    });
    if (response.status !== 201) throw new Error(`creating the SCIM connection answered ${response.status}`);
    const connection = createdConnection.parse(await response.json());
    const send = scimClient(connection.base_url, connection.token);

    const baseline = (): Step => ({ expected: 200, run: () => send("GET", "/ServiceProviderConfig") });
    await schedule(baseline, WARM_UP_SECONDS);
    await schedule(entraCycle(send, "warmup"), WARM_UP_SECONDS);
    return {
      seconds: options.seconds,
      baseline: await schedule(baseline, options.seconds),
      entra: await schedule(entraCycle(send, "run"), options.seconds),
    };
  } finally {
    worker.stop();
  }
}

type Send = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
type Step = { expected: number; run: () => Promise<{ status: number; body: unknown }>; check?: (body: unknown) => boolean };

function scimClient(base: string, token: string): Send {
  return async (method, path, body) => {
    const response = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/scim+json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

/** Request `index` of Entra's 4-request cycle; `prefix` keeps each schedule's users apart. */
function entraCycle(send: Send, prefix: string): (index: number) => Step {
  const created = new Map<number, Promise<string | null>>();
  return (index) => {
    const cycle = Math.floor(index / 4);
    const userName = `${prefix}.user.${cycle}@bench.example.com`;
    const filter = (expression: string) => `/Users?filter=${encodeURIComponent(expression)}`;
    switch (index % 4) {
      case 0:
        return { expected: 200, run: () => send("GET", filter(`userName eq "${userName}"`)), check: (body) => listResponse.safeParse(body).data?.totalResults === 0 };
      case 1:
        return {
          expected: 201,
          run: () => {
            const creation = send("POST", "/Users", {
              schemas: [USER_SCHEMA],
              userName,
              externalId: `${prefix}-ext-${cycle}`,
              active: true,
              name: { givenName: "Bench", familyName: `User ${cycle}` },
              emails: [{ value: userName, type: "work", primary: true }],
            });
            created.set(cycle, creation.then((reply) => (reply.status === 201 ? (createdUser.safeParse(reply.body).data?.id ?? null) : null)).catch(() => null));
            return creation;
          },
        };
      case 2:
        // Sent 40 ms after its POST, so it finds the user only if that POST has answered: not checked.
        return { expected: 200, run: () => send("GET", filter(`externalId eq "${prefix}-ext-${cycle}"`)) };
      default:
        return {
          expected: 200,
          run: async () => {
            const id = await created.get(cycle);
            if (!id) return { status: 0, body: null }; // its POST failed: counted once more, here
            return send("PATCH", `/Users/${id}`, {
              schemas: [PATCH_OP],
              Operations: [
                { op: "Replace", path: "name.familyName", value: `Renamed ${cycle}` },
                { op: "Replace", path: "title", value: "Engineer" },
              ],
            });
          },
        };
    }
  };
}

/** RATE_PER_SECOND × seconds requests, each sent at its time whatever the earlier ones are doing. */
async function schedule(step: (index: number) => Step, seconds: number): Promise<ScheduleResult> {
  const total = RATE_PER_SECOND * seconds;
  const interval = 1000 / RATE_PER_SECOND;
  const latencies: number[] = [];
  const failures: string[] = [];
  let clientLagMaxMs = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const due = start + index * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    clientLagMaxMs = Math.max(clientLagMaxMs, performance.now() - due);
    const { expected, run, check } = step(index);
    const sent = performance.now();
    inFlight.push(
      run().then(
        (reply) => {
          latencies.push(performance.now() - sent);
          if (reply.status !== expected || (check && !check(reply.body))) failures.push(`#${index}: ${reply.status} (expected ${expected})`);
        },
        (error: unknown) => {
          latencies.push(performance.now() - sent);
          failures.push(`#${index}: ${error instanceof Error ? error.name : "error"}`);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return {
    requests: total,
    seconds: elapsed,
    achievedPerSecond: total / elapsed,
    p50Ms: percentile(50),
    p95Ms: percentile(95),
    p99Ms: percentile(99),
    maxMs: sorted[sorted.length - 1]!,
    failures: failures.length,
    failureSamples: failures.slice(0, 3),
    clientLagMaxMs,
  };
}

/** The BENCHMARKS.md section, for bench/run.ts. */
export function scimLoadSection(result: ScimLoadResult, heading: string): string[] {
  const ms = (value: number) => `${Math.round(value)} ms`;
  const row = (label: string, r: ScheduleResult, ratio: string) =>
    `| ${label} | ${r.requests} in ${r.seconds.toFixed(2)} s | ${r.achievedPerSecond.toFixed(1)}/s | ${ms(r.p50Ms)} | ${ms(r.p95Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${r.failures} | ${ratio} |`;
  const { baseline, entra } = result;
  const ratio = (r: ScheduleResult) => `${(r.p50Ms / baseline.p50Ms).toFixed(2)}× / ${(r.p95Ms / baseline.p95Ms).toFixed(2)}×`;
  const kept = entra.failures === 0 && entra.achievedPerSecond >= RATE_PER_SECOND * 0.95;
  return [
    `### ${heading}`,
    "",
    `wrangler dev on 127.0.0.1 (local D1), one connection created through \`POST /admin/scim-connections\`, open loop at ${RATE_PER_SECOND} requests per second for ${result.seconds} s per schedule after a ${WARM_UP_SECONDS}-second warm-up of each; requests from this process. Entra's cycle: \`userName eq\` lookup (no match), POST /Users, \`externalId eq\` lookup, PATCH \`Replace\` of \`name.familyName\` and \`title\`.`,
    "",
    "| schedule | requests | achieved rate | p50 | p95 | p99 | max | failures | p50 / p95 ratio to baseline |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    row("baseline: GET /ServiceProviderConfig (connection auth only)", baseline, "1.00× / 1.00×"),
    row("Entra's provisioning cycle", entra, ratio(entra)),
    "",
    `Target: ${RATE_PER_SECOND} requests per second kept, every one answered as expected: ${kept ? "✅ met" : "❌ missed"} (${entra.achievedPerSecond.toFixed(1)}/s, ${entra.failures} failures${entra.failureSamples.length ? `: ${entra.failureSamples.join(", ")}` : ""}). The client sent at most ${ms(Math.max(baseline.clientLagMaxMs, entra.clientLagMaxMs))} behind its schedule.`,
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await runScimLoadBench({ seconds: 10 }), null, 2));
}
