import { createMessageBatch, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { notifyConfig } from "../../src/config";
import { deliverNotificationBatch } from "../../src/notify/deliver";
import { claimDelivery, countDeliveries, DEFAULT_LEASE_MS, loadDelivery, recordOutcome } from "../../src/notify/deliveries";
import { NOTIFY_QUEUE_NAME } from "../../src/notify/message";
import { resendStalledDeliveries, STALLED_AFTER_MS } from "../../src/notify/relay";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { appReceiver, capturingQueue, changeRows, clearFeed, deliveryRows } from "../support/notify";

/**
 * When a delivery is tried, and by which copy of its message: `next_attempt_at` (the backoff or the
 * app's Retry-After, which the watchdog honours) and the lease a copy holds while it POSTs.
 * Time is a test clock handed to the consumer and the watchdog, so hours pass at once.
 */

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MINUTE = 60 * 1000;
let captured: ReturnType<typeof capturingQueue>;
let ids = 0;

/** One batch of the notifications consumer at `clock`; which messages it retried (delays) and acked. */
async function runAt(clock: number, testEnv: Env, seqs: number[], attempts = 1) {
  const batch = createMessageBatch(
    NOTIFY_QUEUE_NAME,
    seqs.map((seq) => ({ id: `sl_${ids++}`, timestamp: new Date(), attempts, body: { v: 1, kind: "notify", seq } })),
  );
  const retried: number[] = [];
  let acked = 0;
  for (const message of batch.messages) {
    Object.defineProperty(message, "retry", { value: (options?: QueueRetryOptions) => retried.push(options?.delaySeconds ?? 0) });
    Object.defineProperty(message, "ack", { value: () => acked++ });
  }
  await deliverNotificationBatch(batch, { d1: env.DB, queue: captured.queue, now: () => clock, config: () => notifyConfig(testEnv), fetch: (input, init) => fetch(input, init) });
  return { retried, acked };
}

const watchdogAt = (clock: number, webhookUrl: string) => resendStalledDeliveries({ d1: env.DB, queue: captured.queue, now: () => clock, webhookUrl });
const sentSeqs = () => captured.take().map((send) => (send.body as { seq: number }).seq);

async function scheduleColumns(seq: number) {
  return env.DB.prepare("SELECT next_attempt_at, lease_until FROM change_deliveries WHERE seq = ?").bind(seq).first<{ next_attempt_at: number | null; lease_until: number | null }>();
}

async function setup(tenant: string, extra: Partial<Env> = {}) {
  const receiver = appReceiver(tenant);
  const testEnv = { ...env, APP_WEBHOOK_URL: receiver.hookUrl, APP_WEBHOOK_SECRET: SECRET, NOTIFY_QUEUE: captured.queue, ...extra } as Env;
  return { receiver, testEnv, apply: (...list: Parameters<typeof eventMessage>[0][]) => deliverBatch(list.map((event) => eventMessage(event)), { env: testEnv }) };
}

describe("notification schedule and lease", () => {
  beforeEach(async () => {
    captured = capturingQueue();
    await clearFeed();
  });

  it("a 503 with Retry-After: 3600 is not re-sent by the watchdog within the hour, and is POSTed once in it", async () => {
    const { receiver, testEnv, apply } = await setup("sl-retry-after", { NOTIFY_MAX_ATTEMPTS: "8" } as Partial<Env>);
    await receiver.reset(SECRET, [{ status: 503, retryAfter: "3600" }]);
    await apply(events.userUpserted("ra_user", Date.now()));
    const [change] = await changeRows();
    captured.take();
    let clock = Date.now();
    const t0 = clock;
    const firstRetry = (await runAt(clock, testEnv, [change!.seq])).retried;
    expect(firstRetry).toEqual([3600]); // the app asked for an hour
    expect((await scheduleColumns(change!.seq))?.next_attempt_at).toBe(t0 + 3600 * 1000);
    // The watchdog runs every 15 minutes; the original message is due back at t0 + 3600 s.
    for (let pass = 0; pass < 4; pass++) {
      clock += 15 * MINUTE;
      const resent = await watchdogAt(clock, receiver.hookUrl);
      const copies = sentSeqs();
      if (copies.length) await runAt(clock, testEnv, copies);
      expect.soft(resent, `watchdog pass ${pass} at +${(clock - t0) / MINUTE} min`).toEqual([]);
    }
    const posts = await receiver.received();
    expect(posts.length, "POSTs inside the hour the app asked us to wait").toBe(1);
    expect((await deliveryRows())[0]!.attempts).toBe(1);
  });

  it("once the Retry-After hour and the grace have passed, a delivery whose message was lost is re-sent, once per grace", async () => {
    const { receiver, testEnv, apply } = await setup("sl-lost-after-hour");
    await receiver.reset(SECRET, [{ status: 503, times: 1, retryAfter: "3600" }]);
    await apply(events.userUpserted("lo_user", Date.now()));
    const [change] = await changeRows();
    captured.take();
    const t0 = Date.now();
    expect((await runAt(t0, testEnv, [change!.seq])).retried).toEqual([3600]);
    // The retried message never comes back.
    expect(await watchdogAt(t0 + 3600 * 1000 + STALLED_AFTER_MS - 1000, receiver.hookUrl)).toEqual([]);
    const late = t0 + 3600 * 1000 + STALLED_AFTER_MS + 1000;
    expect(await watchdogAt(late, receiver.hookUrl)).toEqual([change!.seq]);
    expect(await watchdogAt(late, receiver.hookUrl), "a second pass at once").toEqual([]);
    expect(await watchdogAt(late + STALLED_AFTER_MS - 1000, receiver.hookUrl), "the re-sent copy gets its own grace").toEqual([]);
    expect(sentSeqs()).toEqual([change!.seq]);
    await runAt(late + 1000, testEnv, [change!.seq]);
    expect((await deliveryRows()).map((row) => [row.status, row.attempts])).toEqual([["delivered", 2]]);
    expect(await scheduleColumns(change!.seq)).toEqual({ next_attempt_at: null, lease_until: null });
  });

  it("a delivery whose POST is in flight (leased) cannot be claimed by a second copy of its message", async () => {
    const { receiver, apply } = await setup("sl-claim");
    await receiver.reset(SECRET);
    await apply(events.userUpserted("cl_user", Date.now()));
    const [change] = await changeRows();
    const copyA = (await loadDelivery(env.DB, change!.seq))!;
    expect(await claimDelivery(env.DB, copyA, Date.now())).toBe(true); // copy A starts its POST
    const copyB = (await loadDelivery(env.DB, change!.seq))!; // a watchdog re-send / settle-enqueued copy arrives
    expect(copyB.status).toBe("pending");
    expect(await claimDelivery(env.DB, copyB, Date.now()), "second copy POSTs concurrently").toBe(false);
  });

  it("a copy that finds the delivery leased re-queues itself for when the lease ends, without a POST or a Queue retry; it acks once the holder delivered", async () => {
    const { receiver, testEnv, apply } = await setup("sl-leased-copy");
    await receiver.reset(SECRET);
    await apply(events.userUpserted("lc_user", Date.now()));
    const [change] = await changeRows();
    captured.take();
    const clock = Date.now();
    const holder = (await loadDelivery(env.DB, change!.seq))!;
    const lease = clock + DEFAULT_LEASE_MS;
    expect(await claimDelivery(env.DB, holder, clock, lease)).toBe(true);

    expect(await runAt(clock, testEnv, [change!.seq])).toEqual({ retried: [], acked: 1 });
    expect(captured.take()).toEqual([{ body: { v: 1, kind: "notify", seq: change!.seq }, delaySeconds: DEFAULT_LEASE_MS / 1000 + 1 }]);
    expect(await receiver.received()).toEqual([]);

    // The holder's POST succeeds; only the holder's lease may record it, and recording ends the lease.
    expect(await recordOutcome(env.DB, change!.seq, { kind: "delivered", status: 204 }, clock + 1000, lease + 1)).toBe(false);
    expect(await recordOutcome(env.DB, change!.seq, { kind: "delivered", status: 204 }, clock + 1000, lease)).toBe(true);
    expect(await scheduleColumns(change!.seq)).toEqual({ next_attempt_at: null, lease_until: null });
    expect(await runAt(clock + DEFAULT_LEASE_MS + 1000, testEnv, [change!.seq])).toEqual({ retried: [], acked: 1 });
    expect(await receiver.received()).toEqual([]);
    expect(captured.take()).toEqual([]);
  });

  it("a holder whose lease ran out cannot record its late outcome over the next holder's", async () => {
    const { receiver, apply } = await setup("sl-overrun");
    await receiver.reset(SECRET);
    await apply(events.userUpserted("ov_user", Date.now()));
    const [change] = await changeRows();
    const clock = Date.now();
    const first = clock + 1000;
    expect(await claimDelivery(env.DB, (await loadDelivery(env.DB, change!.seq))!, clock, first)).toBe(true);
    expect(await claimDelivery(env.DB, (await loadDelivery(env.DB, change!.seq))!, clock + 500, clock + 5000), "the lease still runs").toBe(false);
    const second = clock + 2000 + DEFAULT_LEASE_MS;
    expect(await claimDelivery(env.DB, (await loadDelivery(env.DB, change!.seq))!, clock + 2000, second), "the lease has ended").toBe(true);
    expect(await recordOutcome(env.DB, change!.seq, { kind: "retry", status: 500, error: "http_error", giveUp: false, delaySeconds: 5 }, clock + 3000, first)).toBe(false);
    expect(await scheduleColumns(change!.seq)).toMatchObject({ lease_until: second });
    expect(await recordOutcome(env.DB, change!.seq, { kind: "delivered", status: 204 }, clock + 3000, second)).toBe(true);
    expect((await deliveryRows()).map((row) => [row.status, row.attempts])).toEqual([["delivered", 1]]);
  });

  it("after a failed try, a fresh copy arriving before the retry is due is dropped; the Queue's redelivery of the retried message tries", async () => {
    const { receiver, testEnv, apply } = await setup("sl-early-copy");
    await receiver.reset(SECRET, [{ status: 500, times: 1 }]);
    await apply(events.userUpserted("ec_user", Date.now()));
    const [change] = await changeRows();
    captured.take();
    const clock = Date.now();
    expect((await runAt(clock, testEnv, [change!.seq])).retried).toEqual([5]);
    expect(await scheduleColumns(change!.seq)).toEqual({ next_attempt_at: clock + 5000, lease_until: null });
    // A duplicate (say, a settle's or a replay's message sent twice) shows up a second later.
    expect(await runAt(clock + 1000, testEnv, [change!.seq])).toEqual({ retried: [], acked: 1 });
    expect(captured.take()).toEqual([]);
    expect(await receiver.received()).toHaveLength(1);
    // The retried message comes back when due.
    expect(await runAt(clock + 5000, testEnv, [change!.seq], 2)).toEqual({ retried: [], acked: 1 });
    expect((await receiver.received()).map((request) => request.answered)).toEqual([500, 204]);
  });

  it("the watchdog leaves alone a delivery waiting its turn behind an older change, and a head whose POST holds the lease", async () => {
    const { receiver, testEnv, apply } = await setup("sl-waiting");
    await receiver.reset(SECRET, [{ status: 503, retryAfter: "3600", match: { type: "user.created" } }]);
    await apply(events.userUpserted("wt_user", Date.now()));
    await apply(events.userUpserted("wt_user", Date.now() + 1, { firstName: "Later" }));
    const [head, waiter] = await changeRows();
    captured.take();
    const t0 = Date.now();
    expect((await runAt(t0, testEnv, [head!.seq])).retried).toEqual([3600]);
    // The second change waits behind the first: it looks again in at most 15 minutes, and says when.
    expect(await runAt(t0, testEnv, [waiter!.seq])).toEqual({ retried: [], acked: 1 });
    expect(captured.take()).toEqual([{ body: { v: 1, kind: "notify", seq: waiter!.seq }, delaySeconds: 15 * 60 }]);
    expect((await scheduleColumns(waiter!.seq))?.next_attempt_at).toBe(t0 + 15 * MINUTE);
    // Its wake-up message is lost. Long past it, but inside the head's hour: nothing is re-sent.
    expect(await watchdogAt(t0 + 45 * MINUTE, receiver.hookUrl)).toEqual([]);
    // Past the head's hour and grace: the head only; the waiter goes when the head settles.
    expect(await watchdogAt(t0 + 71 * MINUTE, receiver.hookUrl)).toEqual([head!.seq]);
    expect(sentSeqs()).toEqual([head!.seq]);

    // A head whose copy holds the lease (a POST in flight) is not re-sent while the lease runs.
    await clearFeed();
    await apply(events.userUpserted("wt_other", Date.now()));
    const [leased] = await changeRows();
    captured.take();
    const now = Date.now();
    expect(await claimDelivery(env.DB, (await loadDelivery(env.DB, leased!.seq))!, now, now + 60 * MINUTE)).toBe(true);
    expect(await watchdogAt(now + STALLED_AFTER_MS + MINUTE, receiver.hookUrl)).toEqual([]);
    expect(await watchdogAt(now + 61 * MINUTE, receiver.hookUrl), "the holder died: its lease ran out").toEqual([leased!.seq]);
  });

  it("counts deliveries by status in one statement", async () => {
    const rows: [number, string][] = [
      [900_001, "pending"],
      [900_002, "pending"],
      [900_003, "delivered"],
      [900_004, "rejected"],
      [900_005, "failed"],
      [900_006, "delivered"],
    ];
    await env.DB.batch(
      rows.map(([seq, status]) => env.DB.prepare("INSERT INTO change_deliveries (seq, subject_key, status, attempts, updated_at) VALUES (?, 'scalekit\tcount', ?, 1, 0)").bind(seq, status)),
    );
    expect(await countDeliveries(env.DB)).toEqual({ pending: 2, delivered: 2, rejected: 1, failed: 1 });
    await clearFeed();
    expect(await countDeliveries(env.DB)).toEqual({ pending: 0, delivered: 0, rejected: 0, failed: 0 });
  });
});
