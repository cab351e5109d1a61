import { ConfigError, notifyConfig, type NotifyConfig } from "../config";
import { mapConcurrently } from "../consumer/map-concurrently";
import { log } from "../log";
import { spacedFetch } from "../providers/shared/rate-limit";
import { delayAfterFailure, leaseWaitSeconds, MIN_WAIT_SECONDS, waitDelaySeconds } from "./backoff";
import { claimDelivery, leaseEnd, loadDelivery, recordOutcome, scheduleNextOfSubject, scheduleWait, type DeliveryOutcome, type LoadedDelivery } from "./deliveries";
import { enqueueNotifications, notifyMessage } from "./message";
import { postNotification, type AttemptResult } from "./post";
import { InvalidSigningSecretError, signerFor } from "./sign";

/**
 * The notifications queue's consumer: one message, one change, at most one POST to the app.
 *
 * A message only points at a delivery; D1 decides. Nothing is sent unless the delivery is pending,
 * the endpoint is on, and no older change of the same subject is still pending: a waiting message
 * re-queues itself with a delay and is acked, so waiting never spends the Queue's max_retries.
 * Failed tries do (message.retry after max(backoff, Retry-After), recorded as `next_attempt_at`);
 * after NOTIFY_MAX_ATTEMPTS the delivery is `failed`, which lets the subject's later changes go.
 * Settling a delivery sends its subject's next one at once.
 *
 * Copies of one delivery's message (a watchdog re-send, a settle, a replay, a redelivery by Queues):
 * - only the holder of the lease POSTs (claimDelivery); a copy that finds it leased re-queues
 *   itself to look again when the lease ends (acked, so no max_retries spent);
 * - a fresh copy (first delivery of its message) arriving before `next_attempt_at` is a duplicate:
 *   another copy was scheduled for then, so it is acked. A Queue redelivery (`attempts` > 1) is
 *   taken to be the copy that message.retry scheduled and is not dropped on the clock's say-so
 *   (dropping the scheduled copy would strand the delivery until the watchdog); if it is in fact
 *   a duplicate, it can try before `next_attempt_at`, never while another copy holds the lease;
 * - a copy whose claim finds the delivery rescheduled since it read it acks: the copy that
 *   rescheduled it carries the next try.
 */

/** Sends one invocation may make: under the Free plan's 50 subrequests, with room for D1 and Queue calls. */
const SENDS_PER_INVOCATION = 40;
const SENDS_PER_SECOND = 10;
/** Workers allow six open connections at a time. */
const CONCURRENCY = 6;
/** When D1 or the Queue fails mid-message: try the message again soon (max_retries bounds it). */
const INFRASTRUCTURE_RETRY_SECONDS = 30;
const UNDECODABLE_RETRY_SECONDS = 60;
/** Over this invocation's send budget: back on the queue at once, no try counted. */
const BUDGET_RETRY_SECONDS = 1;
/** Clock skew allowed between the Worker that scheduled a copy and the one receiving it. */
const EARLY_TOLERANCE_MS = 2_000;

export interface DeliverDeps {
  d1: D1Database;
  queue: Queue;
  now: () => number;
  /** Throws ConfigError when the notification settings are invalid. */
  config: () => NotifyConfig;
  fetch: typeof fetch;
}

export function handleNotificationBatch(batch: MessageBatch<unknown>, env: Env, now: () => number = Date.now): Promise<void> {
  return deliverNotificationBatch(batch, {
    d1: env.DB,
    queue: env.NOTIFY_QUEUE,
    now,
    config: () => notifyConfig(env),
    fetch: spacedFetch({ perSecond: SENDS_PER_SECOND, maxRequests: SENDS_PER_INVOCATION }),
  });
}

export async function deliverNotificationBatch(batch: MessageBatch<unknown>, deps: DeliverDeps): Promise<void> {
  let sends = 0;
  const takeSend = () => {
    if (sends >= SENDS_PER_INVOCATION) return false;
    sends++;
    return true;
  };
  await mapConcurrently([...batch.messages], CONCURRENCY, (message) => deliverMessage(message, deps, takeSend));
}

async function deliverMessage(message: Message<unknown>, deps: DeliverDeps, takeSend: () => boolean): Promise<void> {
  const parsed = notifyMessage.safeParse(message.body);
  if (!parsed.success) {
    // Possibly from a newer deploy mid-rollout: retried, then dead-lettered.
    log("notify.message_undecodable", { messageId: message.id, attempts: message.attempts });
    return message.retry({ delaySeconds: UNDECODABLE_RETRY_SECONDS });
  }
  const seq = parsed.data.seq;
  let config: NotifyConfig;
  try {
    config = deps.config();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Left pending: once the settings are fixed, the watchdog sends it.
    log("notify.misconfigured", { seq, error: error.message });
    return message.ack();
  }
  // Off: left pending; setting APP_WEBHOOK_URL again resumes through the relay and the watchdog.
  if (!config.url) return message.ack();

  try {
    const delivery = await loadDelivery(deps.d1, seq);
    if (!delivery || delivery.status !== "pending" || delivery.endpointDisabled) return message.ack();
    if (!delivery.change) {
      await settle(deps, delivery, { kind: "abandoned", error: "change_pruned" });
      return message.ack();
    }
    if (message.attempts <= 1 && delivery.nextAttemptAt !== null && deps.now() + EARLY_TOLERANCE_MS < delivery.nextAttemptAt) {
      log("notify.duplicate_dropped", { seq, dueAt: delivery.nextAttemptAt });
      return message.ack();
    }
    if (delivery.blocker) {
      const now = deps.now();
      const delay = waitDelaySeconds(delivery.blocker.dueAt, now);
      // Still waiting: due then. Unblocked meanwhile: the settle sent a copy; this one looks again soon.
      const waiting = await scheduleWait(deps.d1, seq, now + delay * 1000);
      await enqueueNotifications(deps.queue, [seq], waiting ? delay : MIN_WAIT_SECONDS);
      log("notify.waiting", { seq, behind: delivery.blocker.seq });
      return message.ack();
    }
    if (!takeSend()) return message.retry({ delaySeconds: BUDGET_RETRY_SECONDS });
    let signer;
    try {
      signer = await signerFor(config.secret);
    } catch (error) {
      if (!(error instanceof InvalidSigningSecretError)) throw error;
      log("notify.misconfigured", { seq, error: error.message });
      return message.ack();
    }
    const claimedAt = deps.now();
    const lease = leaseEnd(claimedAt, config.timeoutMs);
    if (!(await claimDelivery(deps.d1, delivery, claimedAt, lease))) return afterLostClaim(message, deps, seq);
    const result = await postNotification({ url: config.url, signer, change: delivery.change, fetch: deps.fetch, timeoutMs: config.timeoutMs, now: deps.now() });
    const outcome = outcomeOf(result, delivery.attempts + 1, config.maxAttempts);
    const recorded = await settle(deps, delivery, outcome, lease);
    if (!recorded) {
      // The lease ran out before this POST settled, and another copy (or a replay) took over.
      log("notify.outcome_superseded", { seq, attempt: delivery.attempts + 1, kind: outcome.kind });
      return message.ack();
    }
    logAttempt(seq, delivery.attempts + 1, result, outcome);
    if (outcome.kind === "retry" && !outcome.giveUp) return message.retry({ delaySeconds: outcome.delaySeconds });
    return message.ack();
  } catch (error) {
    log("notify.delivery_error", { seq, error: String(error) });
    return message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
  }
}

/**
 * The claim failed: the delivery ended (ack), another copy holds the lease (look again when it
 * ends, as a new message: no max_retries spent), or another copy rescheduled it since this one
 * read it (ack: that copy carries the next try).
 */
async function afterLostClaim(message: Message<unknown>, deps: DeliverDeps, seq: number): Promise<void> {
  const current = await loadDelivery(deps.d1, seq);
  const now = deps.now();
  if (current?.status === "pending" && current.leaseUntil !== null && current.leaseUntil >= now) {
    await enqueueNotifications(deps.queue, [seq], leaseWaitSeconds(current.leaseUntil, now));
    log("notify.leased", { seq, until: current.leaseUntil });
  }
  return message.ack();
}

function outcomeOf(result: AttemptResult, tries: number, maxAttempts: number): DeliveryOutcome {
  switch (result.kind) {
    case "delivered":
    case "gone":
      return { kind: result.kind, status: result.status };
    case "rejected":
      return { kind: "rejected", status: result.status, error: result.error };
    case "retryable":
      return { kind: "retry", status: result.status, error: result.error, giveUp: tries >= maxAttempts, delaySeconds: delayAfterFailure(tries, result.retryAfterMs) };
  }
}

/**
 * Records the outcome (`lease`: of this holder's POST); a settled delivery (no longer pending) lets
 * its subject's next change go now. Whether the outcome was recorded.
 */
export async function settle(
  deps: Pick<DeliverDeps, "d1" | "queue" | "now">,
  delivery: Pick<LoadedDelivery, "seq" | "subjectKey">,
  outcome: DeliveryOutcome,
  lease: number | null = null,
): Promise<boolean> {
  const now = deps.now();
  if (!(await recordOutcome(deps.d1, delivery.seq, outcome, now, lease))) return false;
  const settled = outcome.kind !== "gone" && !(outcome.kind === "retry" && !outcome.giveUp);
  if (!settled) return true;
  // Scheduled before it is sent: if the send fails, the watchdog re-sends it after its grace.
  const next = await scheduleNextOfSubject(deps.d1, delivery.subjectKey, delivery.seq, now);
  if (next !== null) await enqueueNotifications(deps.queue, [next]);
  return true;
}

function logAttempt(seq: number, attempt: number, result: AttemptResult, outcome: DeliveryOutcome) {
  const status = "status" in result ? result.status : null;
  if (outcome.kind === "delivered") log("notify.delivered", { seq, attempt, status });
  else if (outcome.kind === "gone") log("notify.endpoint_disabled", { seq, status, reason: "endpoint_gone" });
  else if (outcome.kind === "rejected") log("notify.rejected", { seq, attempt, status, error: outcome.error });
  else if (outcome.kind === "retry") log(outcome.giveUp ? "notify.given_up" : "notify.attempt_failed", { seq, attempt, status, error: outcome.error });
}
