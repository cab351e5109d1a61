import { env } from "cloudflare:test";
import { it } from "vitest";
import { deliverBatch } from "../../test/support/consumer";
import { appReceiver, capturingQueue, clearFeed, deliveryRows, runNotificationBatch } from "../../test/support/notify";
import { signedHeaders } from "../../test/support/sign";
import { scalekitEvent, scalekitUser } from "../../test/support/scalekit";
import { callApp } from "../../test/support/worker";
import { report } from "./measure";
import { countingKv, meteredD1 } from "./metering";

/**
 * Billable operations per delivered event, counted on the real code path: 200 unique signed
 * deliveries through the Worker with KV and the Queue metered, then the queued messages through
 * the consumer with D1's rows metered. Done with each dedupe fast path (DEDUPE_KV: cache, the
 * default; kv; off); what each saves on duplicates is bench/workerd/dedupe.bench.ts. Then the same
 * with outbound change notifications on, counted per change: the relay (inside the event consumer)
 * and the notifications consumer POSTing every change to a real local receiver.
 */

const DELIVERIES = 200;
const USERS = 50;

/**
 * The 200 signed deliveries (50 users, 4 events each: the first creates the user, the next three
 * update them) through the Worker; what it queued. Queued in rounds, so the consumer sees each
 * user once per batch, as in production where one user's events rarely share a batch (a batch
 * holding several of one user's events writes the user once).
 */
async function ingest(prefix: string, overrides: Partial<Env>) {
  // Recorded, not forwarded: the consumer below is the only one that sees these messages.
  const sent: unknown[] = [];
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  let requests = 0;
  for (let i = 0; i < DELIVERIES; i++) {
    const body = JSON.stringify(scalekitEvent("user_updated", scalekitUser({ id: `${prefix}_${i % USERS}`, given_name: `v${i}` })));
    const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body, headers: await signedHeaders(body) }), {
      EVENTS_QUEUE: queue,
      ...overrides,
    });
    requests++;
    if (response.status !== 202) throw new Error(`unexpected ${response.status}`);
  }
  return { sent, requests };
}

const changeCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM changes").first<{ n: number }>())!.n;

/** D1 rows per event with the default fast path (notifications off), the baseline the relay's rows are read against. */
let baselinePerEvent: { d1RowsRead: number; d1RowsWritten: number } | undefined;

it("billable operations per event", async () => {
  const results = [];
  for (const dedupe of ["cache", "kv", "off"] as const) {
    const { kv, counts } = countingKv(env.SEEN_EVENTS);
    const { sent, requests } = await ingest(`cost_${dedupe}`, { SEEN_EVENTS: kv, DEDUPE_KV: dedupe });
    const d1 = meteredD1(env.DB);
    const changesBefore = await changeCount();
    let consumerInvocations = 0;
    let createRows = { read: 0, written: 0 };
    // One batch per round of 50 distinct users: the first round creates them, the others update.
    for (let i = 0; i < sent.length; i += USERS) {
      await deliverBatch(sent.slice(i, i + USERS), { env: { ...env, DB: d1.db } });
      consumerInvocations++;
      if (i === 0) createRows = d1.rows();
    }
    const changes = (await changeCount()) - changesBefore;
    const creates = USERS;
    const updates = DELIVERIES - USERS;
    const perEvent = {
      workerRequests: (requests + consumerInvocations) / DELIVERIES,
      queueMessages: sent.length / DELIVERIES,
      kvReads: counts.reads / DELIVERIES,
      kvWrites: counts.writes / DELIVERIES,
      d1RowsRead: d1.rows().read / DELIVERIES,
      d1RowsWritten: d1.rows().written / DELIVERIES,
      // The two paths apart: an event creating its user, and one updating an existing user (the
      // steady state: a user is created once and then changes for years).
      d1RowsWrittenCreate: createRows.written / creates,
      d1RowsWrittenUpdate: (d1.rows().written - createRows.written) / updates,
      d1RowsReadCreate: createRows.read / creates,
      d1RowsReadUpdate: (d1.rows().read - createRows.read) / updates,
      // Rows the change-feed triggers add to `changes` (already inside d1RowsWritten).
      changes: changes / DELIVERIES,
      // Of d1RowsWritten: the console's hourly counters (pipeline_hourly, migration 0012), one row
      // per status per consumer batch; each batch here records one status (applied), so one row per
      // batch (test/consumer/rows-written.integration.test.ts measures the same).
      hourlyCounterRows: consumerInvocations / DELIVERIES,
    };
    if (dedupe === "cache") baselinePerEvent = { d1RowsRead: perEvent.d1RowsRead, d1RowsWritten: perEvent.d1RowsWritten };
    results.push({ dedupeKv: dedupe, deliveries: DELIVERIES, perEvent });
  }
  await report("costs", results);
}, 180_000);

/** max_batch_size of the directory-notifications consumer in wrangler.toml. */
const NOTIFY_BATCH_SIZE = 10;
const NOTIFY_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

it("billable operations per change notified", async () => {
  if (!baselinePerEvent) throw new Error("the per-event run must come first");
  await clearFeed();
  const receiver = appReceiver("costs");
  await receiver.reset(NOTIFY_SECRET);
  const { sent } = await ingest("cost_notify", {});

  const captured = capturingQueue();
  const d1 = meteredD1(env.DB);
  const notifyEnv = { ...env, DB: d1.db, APP_WEBHOOK_URL: receiver.hookUrl, APP_WEBHOOK_SECRET: NOTIFY_SECRET, NOTIFY_QUEUE: captured.queue } as Env;

  // The event consumer: applies the events, then relays their changes (same invocation).
  for (let i = 0; i < sent.length; i += USERS) await deliverBatch(sent.slice(i, i + USERS), { env: notifyEnv });
  const consumerRows = d1.rows();
  const changes = await changeCount();
  const relayMessages = captured.all.length;

  // The notifications consumer, in batches as Queues delivers them, oldest message first, until
  // nothing is queued; delays (a change waiting behind its subject's older one) are not waited for.
  d1.reset();
  let invocations = 0;
  let retries = 0;
  let rounds = 0;
  let queued = captured.take().map((send) => ({ body: send.body, attempts: 1 }));
  while (queued.length) {
    if (++rounds > 50) throw new Error("notifications still queued after 50 rounds");
    const next: typeof queued = [];
    for (let i = 0; i < queued.length; i += NOTIFY_BATCH_SIZE) {
      const result = await runNotificationBatch(notifyEnv, queued.slice(i, i + NOTIFY_BATCH_SIZE));
      invocations++;
      retries += result.retried.length;
      next.push(...result.retried.map((retry) => ({ body: retry.body, attempts: retry.attempts })));
    }
    queued = [...next, ...captured.take().map((send) => ({ body: send.body, attempts: 1 }))];
  }
  const deliveryRowsCount = d1.rows();
  const received = await receiver.received();
  const deliveries = await deliveryRows();
  if (deliveries.length !== changes || deliveries.some((row) => row.status !== "delivered")) throw new Error("not every change was delivered");
  if (received.length !== changes || received.some((request) => !request.verified || request.answered !== 204)) throw new Error("unexpected receiver requests");

  // The relay's rows: the event consumer's with notifications on, less the same events' without.
  const relay = {
    read: consumerRows.read - baselinePerEvent.d1RowsRead * DELIVERIES,
    written: consumerRows.written - baselinePerEvent.d1RowsWritten * DELIVERIES,
  };
  await report("notifyCosts", {
    deliveries: DELIVERIES,
    changes,
    changesPerEvent: changes / DELIVERIES,
    batchSize: NOTIFY_BATCH_SIZE,
    rounds,
    retries,
    queueMessages: { relay: relayMessages, delivery: captured.all.length - relayMessages },
    d1: { consumerWithNotify: consumerRows, baselinePerEvent, relay, delivery: deliveryRowsCount },
    perChange: {
      workerInvocations: invocations / changes,
      queueMessages: captured.all.length / changes,
      d1RowsRead: (relay.read + deliveryRowsCount.read) / changes,
      d1RowsWritten: (relay.written + deliveryRowsCount.written) / changes,
      httpRequests: received.length / changes,
    },
  });
}, 180_000);
