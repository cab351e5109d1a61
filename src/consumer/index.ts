import { consumerConfig, deadLetterQueueName, reconcileConfig } from "../config";
import { log } from "../log";
import { queueMessage, type DeliveryMessage, type ReconcileMessage } from "../queue-message";
import { isUpstreamProvider, upstreamClient } from "../upstream";
import { spacedFetch } from "../upstream/rate-limit";
import type { ScimClient } from "../upstream/scim-client";
import { applyEventBatch } from "./apply-batch";
import { retryDelaySeconds } from "./backoff";
import { recordDeadLetterBatch } from "./dead-letters";
import { runReconcileSteps } from "./reconcile-steps";

/**
 * SCIM requests one consumer invocation may make, retries included: under the Workers Free plan's
 * 50 subrequests, with room for the Queue sends of re-queued events.
 */
const UPSTREAM_REQUESTS_PER_INVOCATION = 40;

/** Backoff base for recording dead letters when D1 is down (a constant: no config on this path). */
const DEAD_LETTER_RETRY_BASE_SECONDS = 10;

/**
 * The queue() entry point. Dead-letter batches are recorded; other messages are decoded once and
 * routed: provider deliveries to the event consumer, reconciliation steps to the reconciler.
 */
export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, now: () => number = Date.now): Promise<void> {
  // Dead letters depend on nothing but D1: no configuration is read before they are recorded.
  if (batch.queue === deadLetterQueueName(env)) return recordDeadLetterBatch(batch, env.DB, { now, retryBaseSeconds: DEAD_LETTER_RETRY_BASE_SECONDS });
  const config = consumerConfig(env);
  const options = { now, retryBaseSeconds: config.retryBaseSeconds };

  const deliveries: { raw: Message<unknown>; message: DeliveryMessage }[] = [];
  const reconcileSteps: { raw: Message<unknown>; message: ReconcileMessage }[] = [];
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    if (!parsed.success) {
      // Possibly from a newer deploy mid-rollout: retry, and let max_retries dead-letter it.
      log("queue.message_undecodable", { messageId: raw.id, attempts: raw.attempts });
      raw.retry({ delaySeconds: retryDelaySeconds(raw.attempts, config.retryBaseSeconds) });
    } else if (parsed.data.kind === "reconcile") {
      reconcileSteps.push({ raw, message: parsed.data });
    } else {
      deliveries.push({ raw, message: parsed.data });
    }
  }

  // One client per upstream per invocation, so its rate limit spans every lookup in the batch.
  const clients = new Map<string, ScimClient | null>();
  const clientFor = (provider: string) => {
    if (!clients.has(provider)) {
      const fetch = spacedFetch({ perSecond: config.upstreamMaxRequestsPerSecond, maxRequests: UPSTREAM_REQUESTS_PER_INVOCATION });
      clients.set(provider, isUpstreamProvider(provider) ? upstreamClient(env, provider, { fetch }) : null);
    }
    return clients.get(provider) ?? null;
  };
  if (deliveries.length) await applyEventBatch(deliveries, env.DB, { ...options, upstreamFor: clientFor, queue: env.EVENTS_QUEUE, config });
  if (reconcileSteps.length) {
    await runReconcileSteps(reconcileSteps, { ...options, d1: env.DB, queue: env.EVENTS_QUEUE, clientFor, config: () => reconcileConfig(env) });
  }
}
