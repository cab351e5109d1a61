/**
 * `npm run test:stress`: a burst of 10,000 signed deliveries (8,000 distinct events, 2,000
 * duplicates sent again with fresh signatures, shuffled) against a locally served Worker
 * (wrangler dev, loopback only), then a wait for the queue to drain. Invariants:
 * - every distinct event is in D1 exactly once (event_log, users), none lost;
 * - no 5xx except 503 (documented backpressure, retried here as a provider would);
 * - duplicates never add an effect.
 * Bounded: at most 10,000 requests and a 5-minute deadline. Prints a summary and exits non-zero
 * on any violated invariant.
 */
import { createHmac, randomUUID } from "node:crypto";
import { devSigningKey, startLocalWorker } from "../../scripts/local-worker.ts";

const DISTINCT = 8_000;
const DUPLICATES = 2_000;
const CONCURRENCY = 16;
const DEADLINE = Date.now() + 5 * 60_000;

const key = devSigningKey();
const eventsToSend = Array.from({ length: DISTINCT }, (_, i) => ({
  id: `evt_stress_${i}`,
  body: JSON.stringify({
    id: `evt_stress_${i}`,
    type: "organization.directory.user_created",
    timestamp: new Date().toISOString(),
    data: { id: `stress_user_${i}`, email: `stress${i}@example.com`, given_name: "Stress", family_name: String(i), active: true, organization_id: "org_stress" },
  }),
}));
const deliveries = [...eventsToSend, ...Array.from({ length: DUPLICATES }, () => eventsToSend[Math.floor(Math.random() * DISTINCT)]!)];
for (let i = deliveries.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
}

const worker = await startLocalWorker({ port: 8797, state: ".wrangler/stress-state", fresh: true });
const statuses = new Map<number, number>();
let unexpected = 0;
let retries503 = 0;
const failures: string[] = [];
try {
  const sendOne = async (delivery: { body: string }) => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const id = `msg_${randomUUID()}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${delivery.body}`).digest("base64");
      const response = await fetch(`${worker.url}/webhooks/scalekit`, {
        method: "POST",
        headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` },
        body: delivery.body,
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status === 503) {
        retries503++;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        continue;
      }
      if (response.status >= 500 || (response.status !== 200 && response.status !== 202)) unexpected++;
      return;
    }
    unexpected++;
  };

  const sendStart = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < deliveries.length && Date.now() < DEADLINE) await sendOne(deliveries[next++]!);
    }),
  );
  const sendSeconds = (Date.now() - sendStart) / 1000;

  const drainStart = Date.now();
  let processed = 0;
  while (Date.now() < DEADLINE) {
    processed = worker.query<{ n: number }>("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND provider = 'scalekit'")[0]?.n ?? 0;
    if (processed >= DISTINCT) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;

  const [counts] = worker.query<{ processed: number; distinctProcessed: number; users: number; applied: number; failed: number }>(
    `SELECT (SELECT count(*) FROM event_log WHERE provider = 'scalekit' AND status = 'applied') AS processed,
            (SELECT count(DISTINCT event_id) FROM event_log WHERE provider = 'scalekit' AND status = 'applied') AS distinctProcessed,
            (SELECT count(*) FROM users WHERE provider = 'scalekit' AND external_id LIKE 'stress_user_%') AS users,
            (SELECT count(*) FROM event_log WHERE provider = 'scalekit' AND status = 'applied') AS applied,
            (SELECT count(*) FROM event_log WHERE status IN ('failed', 'dead_lettered')) AS failed`,
  );
  const check = (ok: boolean, message: string) => {
    if (!ok) failures.push(message);
    console.log(`${ok ? "✓" : "✗"} ${message}`);
  };
  console.log(`sent ${deliveries.length} deliveries in ${sendSeconds.toFixed(1)} s (${(deliveries.length / sendSeconds).toFixed(0)}/s, ${CONCURRENCY} concurrent); statuses ${JSON.stringify(Object.fromEntries(statuses))}; 503 retried ${retries503}×`);
  console.log(`queue drained ${drainSeconds.toFixed(1)} s after the last delivery`);
  check(unexpected === 0, `no 5xx but documented 503 backpressure, no unexpected status (${unexpected} unexpected)`);
  check(counts?.processed === DISTINCT, `every distinct event processed exactly once (${counts?.processed} of ${DISTINCT})`);
  check(counts?.distinctProcessed === counts?.processed, "no event processed twice");
  check(counts?.users === DISTINCT, `every user created, none lost (${counts?.users} of ${DISTINCT})`);
  check(counts?.applied === DISTINCT, `event log: ${counts?.applied} applied`);
  check(counts?.failed === 0, `nothing failed or dead-lettered (${counts?.failed})`);
} finally {
  worker.stop();
}
console.log(`${6 - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
