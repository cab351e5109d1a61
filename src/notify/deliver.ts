import { ConfigError, notifyConfig, type NotifyConfig } from "../config";
import { mapConcurrently } from "../consumer/map-concurrently";
import { log } from "../log";
import { spacedFetch } from "../providers/shared/rate-limit";
import { delayAfterFailure, waitDelaySeconds } from "./backoff";
import { claimDelivery, loadDelivery, nextPendingOfSubject, recordOutcome, type DeliveryOutcome, type LoadedDelivery } from "./deliveries";
import { enqueueNotifications, notifyMessage } from "./message";
import { postNotification, type AttemptResult } from "./post";
import { InvalidSigningSecretError, signerFor } from "./sign";

/**
 * The notifications queue's consumer: one message, one change, at most one POST to the app.
 *
 * A message only points at a delivery; D1 decides. Nothing is sent unless the delivery is pending,
 * the endpoint is on, and no older change of the same subject is still pending: a waiting message
 * re-queues itself with a delay and is acked, so waiting never spends the Queue's max_retries.
 * Failed tries do (message.retry with backoff); after NOTIFY_MAX_ATTEMPTS the delivery is
 * `failed`, which lets the subject's later changes go. Settling a delivery sends its subject's
 * next one at once.
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
    if (delivery.blocker) {
      await enqueueNotifications(deps.queue, [seq], waitDelaySeconds(delivery.blocker, deps.now()));
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
    if (!(await claimDelivery(deps.d1, delivery, deps.now()))) {
      // Another copy of this message holds it; that one finishes (or the watchdog re-sends).
      return message.ack();
    }
    const result = await postNotification({ url: config.url, signer, change: delivery.change, fetch: deps.fetch, timeoutMs: config.timeoutMs, now: deps.now() });
    const outcome = outcomeOf(result, delivery.attempts + 1, config.maxAttempts);
    await settle(deps, delivery, outcome);
    logAttempt(seq, delivery.attempts + 1, result, outcome);
    if (result.kind === "retryable" && outcome.kind === "retry" && !outcome.giveUp) {
      return message.retry({ delaySeconds: delayAfterFailure(delivery.attempts + 1, result.retryAfterMs) });
    }
    return message.ack();
  } catch (error) {
    log("notify.delivery_error", { seq, error: String(error) });
    return message.retry({ delaySeconds: INFRASTRUCTURE_RETRY_SECONDS });
  }
}

function outcomeOf(result: AttemptResult, tries: number, maxAttempts: number): DeliveryOutcome {
  switch (result.kind) {
    case "delivered":
    case "gone":
      return { kind: result.kind, status: result.status };
    case "rejected":
      return { kind: "rejected", status: result.status, error: result.error };
    case "retryable":
      return { kind: "retry", status: result.status, error: result.error, giveUp: tries >= maxAttempts };
  }
}

/** Records the outcome; a settled delivery (no longer pending) lets its subject's next change go now. */
export async function settle(deps: Pick<DeliverDeps, "d1" | "queue" | "now">, delivery: Pick<LoadedDelivery, "seq" | "subjectKey">, outcome: DeliveryOutcome) {
  await recordOutcome(deps.d1, delivery.seq, outcome, deps.now());
  const settled = outcome.kind !== "gone" && !(outcome.kind === "retry" && !outcome.giveUp);
  if (!settled) return;
  const next = await nextPendingOfSubject(deps.d1, delivery.subjectKey, delivery.seq);
  if (next !== null) await enqueueNotifications(deps.queue, [next]);
}

function logAttempt(seq: number, attempt: number, result: AttemptResult, outcome: DeliveryOutcome) {
  const status = "status" in result ? result.status : null;
  if (outcome.kind === "delivered") log("notify.delivered", { seq, attempt, status });
  else if (outcome.kind === "gone") log("notify.endpoint_disabled", { seq, status, reason: "endpoint_gone" });
  else if (outcome.kind === "rejected") log("notify.rejected", { seq, attempt, status, error: outcome.error });
  else if (outcome.kind === "retry") log(outcome.giveUp ? "notify.given_up" : "notify.attempt_failed", { seq, attempt, status, error: outcome.error });
}
