/**
 * HTTP ingest under load, measured three ways, with the CPU time of each process:
 *
 * - Combined (the figure before issue 14): `wrangler dev` as configured, so the queue consumer
 *   applies the accepted events on the same two cores while the load runs. No-op (unknown path →
 *   404), accepted (a new validly signed event → 202) and bad signature (401).
 * - The request path alone, consumer paused: the queue's `delivery_delay` at an hour
 *   (bench/local-dev.ts), one server per dedupe fast path (`DEDUPE_KV`). The default's (`cache`)
 *   runs no-op, bad signature (the body read and the HMAC, nothing after), duplicate (200: a
 *   provider's retry of an event already accepted, stopped by the fast path after verification,
 *   parsing and normalization, before any queue send) and accepted (the same plus the queue send
 *   and the fast path's mark). The `kv` and `off` servers run accepted deliveries only.
 * - The consumer alone: accepted deliveries held by the queue for a few seconds past the load, then
 *   consumed with no HTTP load. Miniflare's broker hands the consumer one batch at a time and logs
 *   how long each took, so events per second of consumer time is the batches' events over the sum
 *   of their times. The wall time of the drain is not a throughput: a held message comes due as
 *   long after its send as the delay, so the consumer sees them at the rate they were accepted.
 *
 * The combined and paused servers run side by side and their runs interleave, round by round, after
 * a warm-up round. CPU is what wrangler dev's processes spent during each run (utime + stime from
 * /proc), per response or per applied event, by process: the runtime (the Worker, and Miniflare's
 * local D1, KV, Cache and Queue, which run inside the same workerd), wrangler's proxy in front of it
 * (a second workerd), and wrangler itself (node: it receives and formats the Worker's log lines).
 * The differences between routes are computed from those measurements, each labelled with what the
 * one route does more than the other.
 *
 *   node bench/ingest-split.ts     # this benchmark alone, printed as BENCHMARKS.md section 2
 */
import { fileURLToPath } from "node:url";
import { duplicateScenario, load, noopScenario, signedScenario, type LoadResult, type RoundsOptions, type Scenario } from "./http.ts";
import { CPU_ROLES, cpuBetween, startBenchWorker, type BenchWorker, type CpuMs, type CpuRole, type QueueBatch } from "./local-dev.ts";

/** The servers' ports: combined, paused (one per fast path, from PAUSED_PORT), the consumer alone. */
const COMBINED_PORT = 8799;
const PAUSED_PORT = 8790;
const CONSUMER_PORT = 8797;
/** Longer than any server's runs: nothing reaches the consumer while the request path is measured. */
const PAUSE_SECONDS = 3600;
/** Events already accepted that the duplicate scenario redelivers. */
const DUPLICATE_POOL = 200;
/** The consumer's own queue (wrangler.toml) and how long a part-filled batch waits (max_batch_timeout). */
const EVENTS_QUEUE = "directory-events";
const BATCH_TIMEOUT_SECONDS = 5;

type Mode = "cache" | "kv" | "off";
type Route = "noop" | "reject" | "duplicate" | "accept";
type CombinedRoute = "noop" | "accept" | "reject";
/**
 * Which routes each paused server runs, one server per fast path. A no-op or a bad signature never
 * reaches the fast path, so only the default's server runs them (and the duplicate, which isolates
 * the queue send); the others' accepted deliveries are compared with its no-op. Fewer runs, fewer
 * minutes.
 */
const ROUTES: Record<Mode, Route[]> = { cache: ["noop", "reject", "duplicate", "accept"], kv: ["accept"], off: ["accept"] };
const COMBINED_ROUTES: CombinedRoute[] = ["noop", "accept", "reject"];

export interface ConsumerAloneResult {
  /** How long deliveries were sent for the backlog, and how long the queue held each. */
  loadSeconds: number;
  delaySeconds: number;
  accepted: number;
  /** event_log rows by status after the drain (from D1). */
  eventLog: Record<string, number>;
  batches: QueueBatch[];
  /** From the end of the load (the queue still holding everything) to the last batch. */
  windowMs: number;
  cpuMs: CpuMs;
  /** CPU the same processes spend idle, per second (measured between the load and the drain). */
  idleCpuMsPerSecond: CpuMs;
}

export interface IngestResult {
  /** The consumer running as configured (the figure before issue 14), default fast path. */
  combined: Record<CombinedRoute, LoadResult[]>;
  paused: Record<Mode, Partial<Record<Route, LoadResult[]>>>;
  consumer: ConsumerAloneResult;
}

export async function runIngestBench(options: RoundsOptions): Promise<IngestResult> {
  // The servers run side by side and their runs interleave, round by round, so a busier moment of
  // this shared machine falls on every server alike, not on whichever one ran then.
  const modes = Object.keys(ROUTES) as Mode[];
  const servers = [
    { name: "ingest-combined", port: COMBINED_PORT, deliveryDelaySeconds: undefined, mode: "cache" as const },
    ...modes.map((mode, index) => ({ name: `ingest-paused-${mode}`, port: PAUSED_PORT + index, deliveryDelaySeconds: PAUSE_SECONDS, mode })),
  ];
  // Started one after another: four wrangler devs starting at once on two cores can each take
  // longer than the start-up deadline.
  const workers: BenchWorker[] = [];
  try {
    for (const server of servers) workers.push(await startBenchWorker({ ...server, vars: { DEDUPE_KV: server.mode } }));
  } catch (error) {
    for (const worker of workers) worker.stop();
    throw error;
  }
  const [combinedWorker, ...pausedWorkers] = workers as [BenchWorker, ...BenchWorker[]];
  const combined = Object.fromEntries(COMBINED_ROUTES.map((route) => [route, []])) as unknown as IngestResult["combined"];
  const paused = Object.fromEntries(modes.map((mode) => [mode, {}])) as IngestResult["paused"];
  try {
    const runs: { worker: BenchWorker; scenario: Scenario; results: LoadResult[] }[] = [];
    for (const route of COMBINED_ROUTES) runs.push({ worker: combinedWorker, scenario: scenarioFor(route), results: combined[route] });
    for (const [index, mode] of modes.entries()) {
      const worker = pausedWorkers[index]!;
      for (const route of ROUTES[mode]) {
        const scenario = route === "duplicate" ? await duplicateScenario(worker.url, DUPLICATE_POOL) : scenarioFor(route);
        runs.push({ worker, scenario, results: (paused[mode][route] = []) });
      }
    }
    for (let round = 0; round <= options.runs; round++) {
      for (const run of runs) {
        const result = await load(run.worker, run.scenario, round === 0 ? (options.warmUpSeconds ?? 2) : options.seconds, options.connections);
        if (round > 0) run.results.push(result); // round 0 is the warm-up
      }
    }
  } finally {
    for (const worker of workers) worker.stop();
  }
  return { combined, paused, consumer: await runConsumerAlone(options) };
}

function scenarioFor(route: Exclude<Route, "duplicate">): Scenario {
  return route === "noop" ? noopScenario : signedScenario(route === "accept");
}

/** The held messages live in the runtime: when wrangler dev replaces it, the phase starts again on a fresh server. */
class Reloaded extends Error {}

async function runConsumerAlone(options: RoundsOptions): Promise<ConsumerAloneResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await measureConsumerAlone(options);
    } catch (error) {
      if (!(error instanceof Reloaded) || attempt === 3) throw error;
      console.error("  wrangler dev reloaded the Worker while the consumer was measured (a source file changed): starting again");
    }
  }
}

async function measureConsumerAlone(options: RoundsOptions): Promise<ConsumerAloneResult> {
  // The consumer sees the same messages whatever the fast path; with it off, the backlog fills fastest.
  const loadSeconds = 2 * options.seconds;
  // Held past the load by 4 s: 1 s for the load's last requests to settle, 2 s to measure the
  // processes idle, 1 s to spare before the first message comes due.
  const delaySeconds = loadSeconds + 4;
  const worker = await startBenchWorker({ port: CONSUMER_PORT, name: "ingest-consumer", deliveryDelaySeconds: delaySeconds, vars: { DEDUPE_KV: "off" }, logQueueBatches: true });
  try {
    const loadStarted = performance.now();
    const loaded = await load(worker, signedScenario(true), loadSeconds, options.connections);
    const accepted = loaded.responses - loaded.unexpected;
    await sleep(1000);
    const idleFrom = worker.cpu();
    const idleStarted = performance.now();
    await sleep(2000);
    const before = worker.cpu();
    const idleSeconds = (performance.now() - idleStarted) / 1000;
    const idle = cpuBetween(idleFrom, before) ?? reloaded();
    const idleCpuMsPerSecond = Object.fromEntries(CPU_ROLES.map((role) => [role, idle[role] / idleSeconds])) as CpuMs;
    const consumed = () => worker.queueBatches.filter((batch) => batch.queue === EVENTS_QUEUE);
    if (consumed().length) throw new Error("the consumer ran before the load and the idle measurement ended: raise the delivery delay");
    const started = performance.now();
    // Every accepted event, plus the part-filled last batch's wait, plus slack for a loaded machine.
    const deadline = loadStarted + (delaySeconds + loadSeconds + BATCH_TIMEOUT_SECONDS + 60) * 1000;
    while (consumed().reduce((sum, batch) => sum + batch.acked, 0) < accepted) {
      if (performance.now() > deadline) throw new Error(`the consumer took ${consumed().length} batches and not all of ${accepted} events`);
      if (worker.cpu().workerd !== before.workerd) reloaded();
      await sleep(200);
    }
    const batches = consumed();
    const cpuMs = cpuBetween(before, worker.cpu()) ?? reloaded();
    const windowMs = batches.at(-1)!.atMs - started;
    const eventLog = Object.fromEntries(worker.query<{ status: string; n: number }>("SELECT status, count(*) AS n FROM event_log GROUP BY status").map((row) => [row.status, row.n]));
    return { loadSeconds, delaySeconds, accepted, eventLog, batches, windowMs, cpuMs, idleCpuMsPerSecond };
  } finally {
    worker.stop();
  }
}

function reloaded(): never {
  throw new Reloaded("wrangler dev reloaded the Worker (a source file changed) while the consumer was measured");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- formatting (BENCHMARKS.md, section 2) ------------------------------------------------------

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[]) => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
const verdict = (ok: boolean) => (ok ? "✅ met" : "❌ missed");
const rps = (results: LoadResult[]) => median(results.map((result) => result.requestsPerSecond));
/** wrangler dev's processes, without the load generator: what serving a response cost. */
const SERVER_ROLES = ["runtime", "proxy", "wrangler"] as const satisfies readonly CpuRole[];
const serverCpu = (cpu: CpuMs) => SERVER_ROLES.reduce((sum, role) => sum + cpu[role], 0);
/** CPU ms per response of the scenario's expected status, summed over its runs, for one role or the server total. */
function cpuPer(results: LoadResult[], pick: (cpu: CpuMs) => number = serverCpu): number {
  const served = results.reduce((sum, result) => sum + result.responses - result.unexpected, 0);
  return results.reduce((sum, result) => sum + pick(result.cpuMs), 0) / served;
}
const LABELS: Record<Route, string> = {
  noop: "no-op (unknown path → 404)",
  reject: "bad signature → 401",
  duplicate: "duplicate → 200 (fast path hit)",
  accept: "signed delivery → 202",
};

export function ingestSection(result: IngestResult, options: RoundsOptions): string[] {
  const { combined } = result;
  const lines: string[] = [];
  const out = (line = "") => lines.push(line);
  const cpuCells = (results: LoadResult[], baseline: LoadResult[]) =>
    `${fmt(cpuPer(results, (cpu) => cpu.runtime))} | ${fmt(cpuPer(results, (cpu) => cpu.proxy))} | ${fmt(cpuPer(results, (cpu) => cpu.wrangler))} | **${fmt(cpuPer(results))}** | ${fmt(cpuPer(results) / cpuPer(baseline))}× | ${fmt(cpuPer(results, (cpu) => cpu.loadGenerator))}`;
  const loadCells = (results: LoadResult[], baseline: LoadResult[]) =>
    `${fmt(rps(results))} (${spread(results.map((r) => r.requestsPerSecond))}) | ${fmt(rps(results) / rps(baseline))} | ${median(results.map((r) => r.p50Ms))} / ${median(results.map((r) => r.p99Ms))} ms | ${results.reduce((n, r) => n + r.unexpected + r.errors, 0)}`;
  const cpuHeader = "runtime | proxy | wrangler | **total** | ÷ no-op | load generator";

  out(`### 2. HTTP ingest (wrangler dev on 127.0.0.1, autocannon, ${options.connections} connections, ${combined.noop.length} × ${options.seconds} s per route after a warm-up)`);
  out();
  out(
    "The combined server and the three paused ones run side by side, their runs interleaved round by round. CPU is each process's own accounting (utime + stime, /proc/<pid>/stat) during the runs, in ms per response of the route's status: **runtime** is the workerd that runs the Worker and Miniflare's local D1, KV, Cache and Queue; **proxy** is wrangler's workerd in front of it; **wrangler** is its node process (it receives and formats the Worker's log lines); the **load generator** is autocannon and the request signing in the benchmark's process, on the same two cores. Failed: responses with another status, and errors.",
  );
  out();
  out("#### Combined: the consumer applies accepted events on the same cores during the run");
  out();
  out(`| route | req/s (median, range) | ratio to no-op | p50 / p99 | failed | CPU ms/response: ${cpuHeader} |`);
  out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const route of ["noop", "accept", "reject"] as const) out(`| ${LABELS[route]} | ${loadCells(combined[route], combined.noop)} | ${cpuCells(combined[route], combined.noop)} |`);
  out();

  out(`#### The request path alone: the consumer paused (queue messages held ${PAUSE_SECONDS} s), one server per \`DEDUPE_KV\``);
  out();
  out(`| \`DEDUPE_KV\` | route | req/s (median, range) | ratio to no-op | p50 / p99 | failed | CPU ms/response: ${cpuHeader} |`);
  out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const paused = result.paused;
  const noop = paused.cache.noop!;
  for (const mode of Object.keys(ROUTES) as Mode[]) {
    for (const route of ROUTES[mode]) {
      out(`| ${mode === "cache" ? "cache (default)" : mode} | ${LABELS[route]} | ${loadCells(paused[mode][route]!, noop)} | ${cpuCells(paused[mode][route]!, noop)} |`);
    }
  }
  out();
  out("The `kv` and `off` servers ran accepted deliveries only (the other routes never reach the fast path); their ratios are to the default server's no-op.");
  out();

  const consumer = result.consumer;
  const applied = consumer.batches.reduce((sum, batch) => sum + batch.acked, 0);
  const busyMs = consumer.batches.reduce((sum, batch) => sum + batch.ms, 0);
  const idleMs = (role: CpuRole) => (consumer.idleCpuMsPerSecond[role] * consumer.windowMs) / 1000;
  const perEvent = (role: CpuRole) => consumer.cpuMs[role] / applied;
  const perEventTotal = serverCpu(consumer.cpuMs) / applied;
  const perEventLessIdle = SERVER_ROLES.reduce((sum, role) => sum + Math.max(0, consumer.cpuMs[role] - idleMs(role)), 0) / applied;
  out("#### The consumer alone");
  out();
  out(
    `${consumer.accepted.toLocaleString("en")} signed deliveries accepted in ${consumer.loadSeconds} s (\`DEDUPE_KV = "off"\`: the consumer gets the same messages in every mode) with the queue holding them ${consumer.delaySeconds} s, then consumed with no HTTP load: ${consumer.batches.length} batches, ${applied.toLocaleString("en")} events acked (\`event_log\` afterwards: ${Object.entries(consumer.eventLog).map(([status, n]) => `${n.toLocaleString("en")} ${status}`).join(", ") || "empty"}).`,
  );
  out();
  out("| consumer time (Σ of the broker's per-batch timings) | events/s of consumer time | batch time, median (range) | CPU ms per applied event: runtime | proxy | wrangler | **total** | total less idle |");
  out("| --- | --- | --- | --- | --- | --- | --- | --- |");
  out(
    `| ${fmt(busyMs)} ms | **${fmt((applied / busyMs) * 1000)}** | ${median(consumer.batches.map((b) => b.ms))} ms (${spread(consumer.batches.map((b) => b.ms))}) | ${fmt(perEvent("runtime"))} | ${fmt(perEvent("proxy"))} | ${fmt(perEvent("wrangler"))} | **${fmt(perEventTotal)}** | ${fmt(perEventLessIdle)} |`,
  );
  out();
  out(
    `The drain took ${fmt(consumer.windowMs / 1000)} s of wall time, paced by the messages coming due at the rate they were accepted (and the last part-filled batch waiting up to ${BATCH_TIMEOUT_SECONDS} s), so that is not its throughput. Idle, the same processes spend ${fmt(serverCpu(consumer.idleCpuMsPerSecond))} CPU ms per second (runtime ${fmt(consumer.idleCpuMsPerSecond.runtime)}, proxy ${fmt(consumer.idleCpuMsPerSecond.proxy)}, wrangler ${fmt(consumer.idleCpuMsPerSecond.wrangler)}; measured for 2 s between the load and the drain): over this window, ${fmt((SERVER_ROLES.reduce((sum, role) => sum + idleMs(role), 0)) / applied)} ms per event, taken out in the last column. During the load runs above it is under ${fmt(serverCpu(consumer.idleCpuMsPerSecond) / rps(paused.cache.accept!))} ms per response, and left in.`,
  );
  out();

  // Differences between measured rows, each labelled with what it adds.
  const cache = paused.cache;
  const cells = (pick: (role: CpuRole | "total") => number) => [...SERVER_ROLES, "total" as const].map((role) => (role === "total" ? `**${fmt(pick(role))}**` : fmt(pick(role)))).join(" | ");
  const per = (results: LoadResult[], role: CpuRole | "total") => cpuPer(results, role === "total" ? serverCpu : (cpu) => cpu[role]);
  const row = (label: string, adds: string, plus: LoadResult[], minus: LoadResult[]) => out(`| ${label} | ${adds} | ${cells((role) => per(plus, role) - per(minus, role))} |`);
  out("#### Where the request path's CPU goes (differences of the rows above, consumer paused)");
  out();
  out("| difference | what it adds | CPU ms: runtime | proxy | wrangler | **total** |");
  out("| --- | --- | --- | --- | --- | --- |");
  out(`| no-op | routing and a JSON 404, through wrangler's proxy; no log line | ${cells((role) => per(cache.noop!, role))} |`);
  row("bad signature − no-op", "reading the body, the HMAC, a 401, one log line (`webhook.rejected`)", cache.reject!, cache.noop!);
  row("duplicate − bad signature (cache)", "JSON parse and normalization, a Cache API match (hit), a 200; the same one log line", cache.duplicate!, cache.reject!);
  row("accepted − duplicate (cache)", "the queue send, the Cache API put and a miss instead of a hit, a 202", cache.accept!, cache.duplicate!);
  row("accepted (off) − bad signature (cache)", "JSON parse and normalization, the queue send, a 202 (no fast path)", paused.off.accept!, cache.reject!);
  row("accepted (cache) − accepted (off)", "the Cache API fast path: a match (miss) and a put", cache.accept!, paused.off.accept!);
  row("accepted (kv) − accepted (off)", "the KV fast path: a get (miss) and a put", paused.kv.accept!, paused.off.accept!);
  out();

  const pausedAccept = cpuPer(cache.accept!);
  out(
    `CPU per accepted delivery against the no-op route, all of wrangler dev's processes: **${fmt(pausedAccept / cpuPer(cache.noop!))}×** with the consumer paused (${fmt(pausedAccept)} ms against ${fmt(cpuPer(cache.noop!))}), ${fmt(cpuPer(combined.accept) / cpuPer(combined.noop))}× combined (${fmt(cpuPer(combined.accept))} ms against ${fmt(cpuPer(combined.noop))}). The request path (${fmt(pausedAccept)} ms) plus the consumer alone (${fmt(perEventTotal)} ms per event) is ${fmt(pausedAccept + perEventTotal)} ms, against ${fmt(cpuPer(combined.accept))} ms per delivery measured combined.`,
  );
  out();
  out(
    `Targets: accepted ≥ 0.5 × no-op: ${verdict(rps(combined.accept) >= 0.5 * rps(combined.noop))} combined (${fmt(rps(combined.accept) / rps(combined.noop))}); ${verdict(rps(cache.accept!) >= 0.5 * rps(cache.noop!))} with the consumer paused (${fmt(rps(cache.accept!) / rps(noop))}; ${fmt(rps(paused.off.accept!) / rps(noop))} with \`off\`, ${fmt(rps(paused.kv.accept!) / rps(noop))} with \`kv\`). Rejection at least as cheap as acceptance: ${verdict(rps(combined.reject) >= rps(combined.accept))}.`,
  );
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = { seconds: 5, runs: 3, connections: 8 };
  console.log(ingestSection(await runIngestBench(options), options).join("\n"));
}
