/**
 * `npm run bench`: every benchmark, one table, BENCHMARKS.md updated. Kept out of `npm test`.
 *
 * 1. workerd benchmarks (bench/workerd, through vitest): signature verification, the consumer,
 *    billable operations per event (reconciliation at 100k users is `npm run bench:reconcile`);
 * 2. HTTP ingest under load against `wrangler dev`: combined (the consumer running alongside), and
 *    split into the request path with the consumer paused and the consumer alone, with CPU time
 *    per delivery (bench/ingest-split.ts);
 * 3. the bundle;
 * 4. the cost model, from the counts in (1) and Cloudflare's published prices: per delivered
 *    event, and per change notified to the app (APP_WEBHOOK_URL set);
 * 5. one SCIM connection at 25 requests per second against `wrangler dev` (bench/scim-load.ts);
 * 6. D1 bytes stored per applied event, and retention's steady state (bench/workerd/storage.bench.ts).
 * Figures are medians over repeated runs after a warm-up, with their spread, and ratios against a
 * baseline measured in the same run: these machines are shared and noisy.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, totalmem } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { measureBundle } from "./bundle.ts";
import { ingestSection, runIngestBench } from "./ingest-split.ts";
import { runScimLoadBench, scimLoadSection } from "./scim-load.ts";

type Timing = { medianMs: number; p25Ms: number; p75Ms: number };
const started = Date.now();

// 1. workerd benchmarks, reporting to a collector on loopback.
const collected: Record<string, unknown> = {};
const collector = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    const { section, data } = JSON.parse(body) as { section: string; data: unknown };
    collected[section] = data;
    response.end("ok");
  });
});
await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
console.error("• workerd benchmarks (verify, consumer, costs; reconciliation: npm run bench:reconcile)…");
// Asynchronous on purpose: the collector above must keep answering while vitest runs.
const vitestExit = await new Promise<number | null>((resolve) => {
  const child = spawn("vitest", ["run", "--config", "bench/vitest.config.ts"], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, BENCH_COLLECTOR: collectorUrl } });
  child.on("exit", resolve);
});
collector.close();
if (vitestExit !== 0) throw new Error("workerd benchmarks failed");

console.error("• HTTP ingest under load: combined, the request path with the consumer paused (per DEDUPE_KV), the consumer alone…");
const ingestOptions = { seconds: 5, runs: 3, connections: 8 };
const ingest = await runIngestBench(ingestOptions);
console.error("• SCIM connection at 25 requests per second…");
const scimLoad = await runScimLoadBench({ seconds: 10 });
console.error("• bundle…");
const bundle = measureBundle();

// ---- formatting ---------------------------------------------------------------------------
const fmt = (value: number, digits = 2) => (value >= 100 ? value.toFixed(0) : value.toPrecision(3 > digits ? digits + 1 : 3));
const ms = (timing: Timing) => `${fmt(timing.medianMs * 1000)} µs (${fmt(timing.p25Ms * 1000)}–${fmt(timing.p75Ms * 1000)})`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const verdict = (ok: boolean) => (ok ? "✅ met" : "❌ missed");
const lines: string[] = [];
const out = (line = "") => lines.push(line);

const workerdVersion = JSON.parse(readFileSync("node_modules/workerd/package.json", "utf8")).version;
const wranglerVersion = JSON.parse(readFileSync("node_modules/wrangler/package.json", "utf8")).version;
out(`Run ${new Date(started).toISOString()} · ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · workerd ${workerdVersion} · wrangler ${wranglerVersion}`);
out();

// Verification
type VerifyRow = { bodyBytes: number; signatures: number; secrets: number; ours: Timing; reference: Timing; digest: Timing; oursVerifySecond: Timing; oursVerifyFirst: Timing };
const verify = collected.verify as VerifyRow[];
out("### 1. Signature verification (inside workerd)");
out();
out("Verify and parse, like for like (the reference's `verify()` also parses the JSON body); signed with the second of two configured secrets:");
out();
out("| body | signatures | ours | standardwebhooks | speed-up |");
out("| --- | --- | --- | --- | --- |");
for (const row of verify) {
  out(`| ${kib(row.bodyBytes)} | ${row.signatures} | ${ms(row.ours)} | ${ms(row.reference)} | **${fmt(row.reference.medianMs / row.ours.medianMs)}×** |`);
}
out();
out("Verification alone against the floor, a bare `crypto.subtle.digest(\"SHA-256\")` over the same bytes:");
out();
out("| body | signatures | bare SHA-256 | ours, first secret matches | ÷ digest | ours, second secret matches | ÷ digest |");
out("| --- | --- | --- | --- | --- | --- | --- |");
for (const row of verify) {
  out(`| ${kib(row.bodyBytes)} | ${row.signatures} | ${ms(row.digest)} | ${ms(row.oursVerifyFirst)} | ${fmt(row.oursVerifyFirst.medianMs / row.digest.medianMs)}× | ${ms(row.oursVerifySecond)} | ${fmt(row.oursVerifySecond.medianMs / row.digest.medianMs)}× |`);
}
const at = (bytes: number) => verify.filter((row) => row.bodyBytes === bytes);
const minSpeedup = (bytes: number) => Math.min(...at(bytes).map((row) => row.reference.medianMs / row.ours.medianMs));
const firstOverDigest = Math.max(...at(256 * 1024).map((row) => row.oursVerifyFirst.medianMs / row.digest.medianMs));
const secondOverDigest = Math.max(...at(256 * 1024).map((row) => row.oursVerifySecond.medianMs / row.digest.medianMs));
out();
out(`Targets: ≥ 4× the reference at 2 KiB: ${verdict(minSpeedup(2048) >= 4)} (worst case ${fmt(minSpeedup(2048))}×). ≥ 5× at 256 KiB: ${verdict(minSpeedup(256 * 1024) >= 5)} (worst case ${fmt(minSpeedup(256 * 1024))}×). Within 1.5× of the bare digest at 256 KiB: ${verdict(firstOverDigest <= 1.5)} when the first secret matches (${fmt(firstOverDigest)}×); ${fmt(secondOverDigest)}× when only the second does, because an HMAC is one SHA-256 pass per configured key tried, so two secrets cost two passes.`);
out();

// HTTP (bench/ingest-split.ts formats it: the combined run, the split, the CPU breakdown)
for (const line of ingestSection(ingest, ingestOptions)) out(line);
out();

// Consumer
type ConsumerResult = { events: number; samples: number; roundTripsPerBatch: number; d1RowsPerBatch: { read: number; written: number }; batchedMs: { median: number; p25: number; p75: number }; naiveMs: { median: number; p25: number; p75: number } };
const consumer = collected.consumer as ConsumerResult;
const batchedRate = (consumer.events / consumer.batchedMs.median) * 1000;
const naiveRate = (consumer.events / consumer.naiveMs.median) * 1000;
out("### 3. Consumer: a 100-event batch (users, groups, memberships, updates, deletes) into D1");
out();
out("| consumer | D1 round trips / batch | ms / batch (median, p25–p75) | events/s |");
out("| --- | --- | --- | --- |");
out(`| this project (set-based, one D1 batch) | ${consumer.roundTripsPerBatch} | ${fmt(consumer.batchedMs.median)} (${fmt(consumer.batchedMs.p25)}–${fmt(consumer.batchedMs.p75)}) | ${fmt(batchedRate)} |`);
out(`| naive (one round trip per event) | 100 | ${fmt(consumer.naiveMs.median)} (${fmt(consumer.naiveMs.p25)}–${fmt(consumer.naiveMs.p75)}) | ${fmt(naiveRate)} |`);
out();
out(`Targets: ≤ 5 round trips per batch: ${verdict(consumer.roundTripsPerBatch <= 5)}. ≥ 10× the naive loop: ${verdict(batchedRate / naiveRate >= 10)} (${fmt(batchedRate / naiveRate)}×). D1 rows per batch: ${consumer.d1RowsPerBatch.read} read, ${consumer.d1RowsPerBatch.written} written.`);
out();

// Reconciliation: measured at 100,000 users by `npm run bench:reconcile` alone (bench/reconcile.ts),
// which takes minutes; its results have their own place in BENCHMARKS.md.
out("### 4. Reconciliation");
out();
out("Not run here: reconciliation at 100,000 users (Firstup and Scalekit, a first and an unchanged second run each) takes about 3 minutes more on its own, over this run's time budget. Run it alone with `npm run bench:reconcile`; it rewrites the section \"Reconciliation at 100,000 users\" of BENCHMARKS.md.");
out();

// Bundle
out("### 5. Bundle (`wrangler deploy --dry-run`)");
out();
out(`${kib(bundle.rawBytes)} raw, **${kib(bundle.gzipBytes)} gzip** (target ≤ 120 KiB gzip: ${verdict(bundle.gzipBytes <= 120 * 1024)}). Largest contributors (bytes in the bundle): ${bundle.contributors.map((c) => `${c.name} ${kib(c.bytes)}`).join(", ")}.`);
out();

// Cost model
type CostRow = { dedupeKv: "cache" | "kv" | "off"; perEvent: { workerRequests: number; queueMessages: number; kvReads: number; kvWrites: number; d1RowsRead: number; d1RowsWritten: number; d1RowsWrittenCreate: number; d1RowsWrittenUpdate: number; d1RowsReadCreate: number; d1RowsReadUpdate: number; changes: number } };
const costs = collected.costs as CostRow[];
// Cloudflare's published list prices beyond each plan's monthly inclusion (Workers Paid), per million.
const PRICES = { workerRequests: 0.3, queueOperations: 0.4, kvReads: 0.5, kvWrites: 5.0, d1RowsRead: 0.001, d1RowsWritten: 1.0 };
out("### 6. Cost per 1,000,000 delivered events (counted on the real code path)");
out();
out("| `DEDUPE_KV` | Worker requests | Queue operations | KV reads | KV writes | D1 rows read | D1 rows written | total |");
out("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of costs) {
  const e = row.perEvent;
  // Each queue message is 3 billable operations: write, read, delete (per 64 KB).
  const items = [
    [e.workerRequests, PRICES.workerRequests],
    [e.queueMessages * 3, PRICES.queueOperations],
    [e.kvReads, PRICES.kvReads],
    [e.kvWrites, PRICES.kvWrites],
    [e.d1RowsRead, PRICES.d1RowsRead],
    [e.d1RowsWritten, PRICES.d1RowsWritten],
  ] as const;
  const cells = items.map(([count, price]) => `${fmt(count)}/event → $${(count * price).toFixed(2)}`);
  const total = items.reduce((sum, [count, price]) => sum + count * price, 0);
  out(`| ${row.dedupeKv === "cache" ? "cache (default)" : row.dedupeKv} | ${cells.join(" | ")} | **$${total.toFixed(2)}** |`);
}
out();
// The same events by path, with the default fast path: creating a user, or updating one.
{
  const base = costs.find((row) => row.dedupeKv === "cache") ?? costs[0]!;
  const e = base.perEvent;
  const fixed = e.workerRequests * PRICES.workerRequests + e.queueMessages * 3 * PRICES.queueOperations + e.kvReads * PRICES.kvReads + e.kvWrites * PRICES.kvWrites;
  const path = (written: number, read: number) => fixed + written * PRICES.d1RowsWritten + read * PRICES.d1RowsRead;
  out("By path, default fast path (the workload above is one create per three updates; each consumer batch holds one event per user):");
  out();
  out("| path | D1 rows written / event | D1 rows read / event | total per million events | ≤ 4 rows written | ≤ $6 |");
  out("| --- | --- | --- | --- | --- | --- |");
  out(`| update of an existing user (the steady state) | ${fmt(e.d1RowsWrittenUpdate)} | ${fmt(e.d1RowsReadUpdate)} | **$${path(e.d1RowsWrittenUpdate, e.d1RowsReadUpdate).toFixed(2)}** | ${verdict(e.d1RowsWrittenUpdate <= 4)} | ${verdict(path(e.d1RowsWrittenUpdate, e.d1RowsReadUpdate) <= 6)} |`);
  out(`| creation of a user | ${fmt(e.d1RowsWrittenCreate)} | ${fmt(e.d1RowsReadCreate)} | $${path(e.d1RowsWrittenCreate, e.d1RowsReadCreate).toFixed(2)} | ${verdict(e.d1RowsWrittenCreate <= 4)} | ${verdict(path(e.d1RowsWrittenCreate, e.d1RowsReadCreate) <= 6)} |`);
  out(`| the mixed workload above | ${fmt(e.d1RowsWritten)} | ${fmt(e.d1RowsRead)} | $${path(e.d1RowsWritten, e.d1RowsRead).toFixed(2)} | ${verdict(e.d1RowsWritten <= 4)} | ${verdict(path(e.d1RowsWritten, e.d1RowsRead) <= 6)} |`);
  out();
}

// Notifications: the relay (inside the event consumer) and the notifications consumer, per change.
type NotifyCosts = {
  deliveries: number;
  changes: number;
  changesPerEvent: number;
  batchSize: number;
  retries: number;
  queueMessages: { relay: number; delivery: number };
  d1: { relay: { read: number; written: number }; delivery: { read: number; written: number } };
  perChange: { workerInvocations: number; queueMessages: number; d1RowsRead: number; d1RowsWritten: number; httpRequests: number };
};
const notify = collected.notifyCosts as NotifyCosts;
const c = notify.perChange;
const notifyItems = [
  [c.workerInvocations, PRICES.workerRequests],
  [c.queueMessages * 3, PRICES.queueOperations],
  [c.d1RowsRead, PRICES.d1RowsRead],
  [c.d1RowsWritten, PRICES.d1RowsWritten],
] as const;
const notifyTotal = notifyItems.reduce((sum, [count, price]) => sum + count * price, 0);
out("#### Notifications, per change (APP_WEBHOOK_URL set)");
out();
out(`${notify.deliveries} more deliveries of the same kind applied with \`APP_WEBHOOK_URL\` set, the relay's messages then run through the notifications consumer (batches of ${notify.batchSize}, oldest first, delays not waited for) until none were left, each change POSTed to a local receiver that verified it; per 1,000,000 changes:`);
out();
out("| per change | Worker invocations | Queue operations | D1 rows read | D1 rows written | outbound HTTP requests | total |");
out("| --- | --- | --- | --- | --- | --- | --- |");
out(`| relay + delivery | ${notifyItems.map(([count, price]) => `${fmt(count)}/change → $${(count * price).toFixed(2)}`).join(" | ")} | ${fmt(c.httpRequests)}/change (subrequests, not billed) | **$${notifyTotal.toFixed(2)}** |`);
out();
const perEventChanges = costs.map((row) => `${fmt(row.perEvent.changes)} with \`DEDUPE_KV = "${row.dedupeKv}"\``).join(", ");
out(`Changes per event: ${perEventChanges}, ${fmt(notify.changesPerEvent)} in this run (${notify.changes} changes from ${notify.deliveries} events), so notifications add about $${(notifyTotal * notify.changesPerEvent).toFixed(2)} per million events here; the triggers' \`changes\` rows are already in the D1 rows written per event above. Per change: ${fmt(notify.queueMessages.relay / notify.changes)} messages from the relay and ${fmt(notify.queueMessages.delivery / notify.changes)} sent when a subject's earlier change settled; D1 rows read / written ${fmt(notify.d1.relay.read / notify.changes)} / ${fmt(notify.d1.relay.written / notify.changes)} by the relay (the event consumer's rows less the same events' without notifications) and ${fmt(notify.d1.delivery.read / notify.changes)} / ${fmt(notify.d1.delivery.written / notify.changes)} by delivery; ${notify.retries} retries.`);
out();
// Dedupe fast path at duplicate rates (bench/workerd/dedupe.bench.ts): what each DEDUPE_KV mode
// costs on 1,000 unique events, and what the retried copies that got past the edge cost downstream.
{
  type DedupeStep = { deliveries: number; stoppedAtEdge: number; kv: { reads: number; writes: number }; cache: { matches: number; puts: number }; queueMessages: number; d1: { read: number; written: number } };
  type DedupeRow = { mode: "cache" | "kv" | "off"; rate: number; unique: number; originals: DedupeStep; duplicates: DedupeStep };
  const dedupe = collected.dedupe as DedupeRow[];
  const BATCH_SIZE = 100; // the consumer's max_batch_size: a copy past the edge shares its invocation
  const dedupeCosts = (kvReads: number, kvWrites: number, passed: { queueMessages: number; d1: { read: number; written: number } }, unique: number) => {
    const fastPath = (kvReads * PRICES.kvReads + kvWrites * PRICES.kvWrites) / unique;
    const downstream =
      (passed.queueMessages * 3 * PRICES.queueOperations + (passed.queueMessages / BATCH_SIZE) * PRICES.workerRequests + passed.d1.read * PRICES.d1RowsRead + passed.d1.written * PRICES.d1RowsWritten) / unique;
    return { fastPath, downstream, total: fastPath + downstream };
  };
  const dollars = (value: number) => `$${value.toFixed(value > 0 && value < 0.1 ? 4 : 2)}`;
  const percent = (rate: number) => `${+(rate * 100).toPrecision(3)}%`;
  out("#### Dedupe fast path at duplicate rates (`DEDUPE_KV`)");
  out();
  out(`${dedupe[0]?.unique.toLocaleString("en")} unique events through the Worker and the consumer per mode, then a provider retry of a share of them (fresh signature); per 1,000,000 unique events, the fast path's own cost and what the copies it let through cost downstream (3 queue operations each, a 1/${BATCH_SIZE} share of a consumer invocation, the consumer's D1 rows). The inbound request of each copy ($${PRICES.workerRequests}/M) is paid in every mode and left out.`);
  out();
  out("| `DEDUPE_KV` | duplicates | stopped at the edge | KV reads / writes | Cache API calls (not billed) | copies queued | consumer D1 rows read / written | fast path | copies past the edge | total |");
  out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const cheapest = new Map<number, { mode: string; total: number }>();
  for (const row of dedupe) {
    const kvReads = row.originals.kv.reads + row.duplicates.kv.reads;
    const kvWrites = row.originals.kv.writes + row.duplicates.kv.writes;
    const cost = dedupeCosts(kvReads, kvWrites, row.duplicates, row.unique);
    const best = cheapest.get(row.rate);
    if (!best || cost.total < best.total) cheapest.set(row.rate, { mode: row.mode, total: cost.total });
    const cacheCalls = row.originals.cache.matches + row.originals.cache.puts + row.duplicates.cache.matches + row.duplicates.cache.puts;
    out(`| ${row.mode} | ${percent(row.rate)} (${row.duplicates.deliveries}) | ${row.duplicates.stoppedAtEdge} | ${kvReads} / ${kvWrites} | ${cacheCalls} | ${row.duplicates.queueMessages} | ${row.duplicates.d1.read} / ${row.duplicates.d1.written} | ${dollars(cost.fastPath)} | ${dollars(cost.downstream)} | **${dollars(cost.total)}** |`);
  }
  // KV only for ids seen twice ("kv-repeat"), modelled from the off run: a KV read per delivery, a KV
  // write per copy reaching the consumer, and each event's first copy still queued.
  for (const off of dedupe.filter((row) => row.mode === "off")) {
    const cost = dedupeCosts(off.originals.deliveries + off.duplicates.deliveries, off.duplicates.queueMessages, off.duplicates, off.unique);
    out(`| kv-repeat (modelled, not built) | ${percent(off.rate)} (${off.duplicates.deliveries}) | 0 | ${off.originals.deliveries + off.duplicates.deliveries} / ${off.duplicates.queueMessages} | 0 | ${off.duplicates.queueMessages} | ${off.duplicates.d1.read} / ${off.duplicates.d1.written} | ${dollars(cost.fastPath)} | ${dollars(cost.downstream)} | **${dollars(cost.total)}** |`);
  }
  out();
  out(`Cheapest per rate: ${[...cheapest].map(([rate, best]) => `${percent(rate)}: ${best.mode} (${dollars(best.total)})`).join(", ")}. Everything here ran in one location, so \`cache\` stopped every retried copy: in production a copy that reaches another location, or comes after its entry was evicted, passes and costs what it costs with \`off\`, so \`off\` is \`cache\`'s worst case.`);
  out();
}
out(`Prices (USD per million, beyond the Workers Paid monthly inclusions), from Cloudflare's pricing pages for Workers, Queues, KV and D1 as recorded 2026-11-23: requests $${PRICES.workerRequests}, queue operations $${PRICES.queueOperations}, KV reads $${PRICES.kvReads}, KV writes $${PRICES.kvWrites}, D1 rows read $${PRICES.d1RowsRead}, D1 rows written $${PRICES.d1RowsWritten}. CPU time ($0.02 per million CPU-ms) is not included: it is not countable from inside workerd.`);
out();
// SCIM connection load (bench/scim-load.ts)
for (const line of scimLoadSection(scimLoad, "7. SCIM connection at 25 requests per second (Entra ID's rate)")) out(line);
out();
// Storage per event and retention's steady state (bench/workerd/storage.bench.ts).
{
  type StorageRow = { table: string; rowsPerEvent: number; payloadBytesPerEvent: number };
  const storage = collected.storage as { users: number; events: number; bytesPerEvent: number; databaseBytes: { before: number; after: number }; perTable: StorageRow[] };
  // RETENTION_DAYS and CHANGE_RETENTION_DAYS defaults (wrangler.toml): the event log, processed ids and changes.
  const RETAINED_DAYS = 30;
  const D1_LIMIT_BYTES = 10e9;
  const steadyBytes = storage.bytesPerEvent * 1e6 * RETAINED_DAYS;
  out("### 8. Storage per event, and retention's steady state");
  out();
  out(`${storage.events.toLocaleString("en")} signed \`user_updated\` deliveries on ${storage.users} existing users, through the Worker and the consumer: the D1 database grew by **${fmt(storage.bytesPerEvent)} bytes per applied event** (D1's own \`size_after\`: the file, indexes and page overhead included; ${kib(storage.databaseBytes.before)} → ${kib(storage.databaseBytes.after)}). By table (rows, and payload: the sum of \`length()\` of the row's columns, without indexes):`);
  out();
  out("| table | rows / event | payload bytes / event |");
  out("| --- | --- | --- |");
  for (const row of storage.perTable) out(`| \`${row.table}\` | ${fmt(row.rowsPerEvent)} | ${fmt(row.payloadBytesPerEvent)} |`);
  out();
  out(`Steady state with the defaults (everything per event kept ${RETAINED_DAYS} days: \`RETENTION_DAYS\`, \`CHANGE_RETENTION_DAYS\`): **${(steadyBytes / 1e9).toFixed(1)} GB per million events a day**, against D1's 10 GB per database: ${verdict(steadyBytes <= D1_LIMIT_BYTES)}; at most about ${Math.floor(D1_LIMIT_BYTES / (storage.bytesPerEvent * RETAINED_DAYS) / 1000).toLocaleString("en")} thousand events a day fit. Rows older than that are pruned by the watchdog's retention steps (README, "Retention"); unresolved events are kept until resolved. The directory itself (users, groups, memberships) grows with the directory, not with events, and is left out.`);
  out();
}
out(`Benchmark wall time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);

const table = lines.join("\n");
console.log(table);
const start = "<!-- bench:results:start -->";
const end = "<!-- bench:results:end -->";
const file = "BENCHMARKS.md";
const current = existsSync(file) ? readFileSync(file, "utf8") : `# Benchmarks\n\n${start}\n${end}\n`;
const updated = current.includes(start) ? current.replace(new RegExp(`${start}[\\s\\S]*${end}`), `${start}\n${table}\n${end}`) : `${current}\n${start}\n${table}\n${end}\n`;
writeFileSync(file, updated);
console.error(`BENCHMARKS.md updated.`);
