import { consumerConfig, deadLetterQueueName, reconcileConfig } from "../config";
import { log } from "../log";
import { queueMessage, type DeliveryMessage, type ImportChunkMessage, type ReconcileMessage } from "../queue-message";
import { providerModules, reconcileSources } from "../providers";
import { spacedFetch } from "../providers/shared/rate-limit";
import type { RefreshUpstream } from "../providers/types";
import { applyEventBatch } from "./apply-batch";
import { retryDelaySeconds } from "./backoff";
import { recordDeadLetterBatch } from "./dead-letters";
import { runReconcileSteps } from "./reconcile-steps";
import { recordNotifyDeadLetters } from "../notify/dead-letters";
import { handleNotificationBatch } from "../notify/deliver";
import { NOTIFY_DEAD_LETTER_QUEUE_NAME, NOTIFY_QUEUE_NAME } from "../notify/message";
import { relayFromEnv } from "../notify/relay";
import { applyImportChunks } from "../import/consume";

/**
 * SCIM requests one consumer invocation may make, retries included: under the Workers Free plan's
 * 50 subrequests, with room for the Queue sends of re-queued events.
 */
const UPSTREAM_REQUESTS_PER_INVOCATION = 40;

/** Backoff base for recording dead letters when D1 is down (a constant: no config on this path). */
const DEAD_LETTER_RETRY_BASE_SECONDS = 10;

/**
 * The queue() entry point. Dead-letter batches are recorded; the notifications queues go to
 * src/notify; other messages are decoded once and routed: provider deliveries to the event
 * consumer, reconciliation steps to the reconciler. After those commit, their changes are relayed
 * to the notifications queue.
 */
export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, now: () => number = Date.now): Promise<void> {
  // Dead letters depend on nothing but D1: no configuration is read before they are recorded.
  if (batch.queue === deadLetterQueueName(env)) return recordDeadLetterBatch(batch, env.DB, { now, retryBaseSeconds: DEAD_LETTER_RETRY_BASE_SECONDS });
  // Notifications read only their own settings: a bad ingest or consumer setting cannot stop them.
  if (batch.queue === NOTIFY_QUEUE_NAME) return handleNotificationBatch(batch, env, now);
  if (batch.queue === NOTIFY_DEAD_LETTER_QUEUE_NAME) return recordNotifyDeadLetters(batch, { d1: env.DB, queue: env.NOTIFY_QUEUE, now });
  const config = consumerConfig(env);
  const options = { now, retryBaseSeconds: config.retryBaseSeconds };

  const deliveries: { raw: Message<unknown>; message: DeliveryMessage }[] = [];
  const reconcileSteps: { raw: Message<unknown>; message: ReconcileMessage }[] = [];
  const importChunks: { raw: Message<unknown>; message: ImportChunkMessage }[] = [];
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    if (!parsed.success) {
      // Possibly from a newer deploy mid-rollout: retry, and let max_retries dead-letter it.
      log("queue.message_undecodable", { messageId: raw.id, attempts: raw.attempts });
      raw.retry({ delaySeconds: retryDelaySeconds(raw.attempts, config.retryBaseSeconds) });
    } else if (parsed.data.kind === "reconcile") {
      reconcileSteps.push({ raw, message: parsed.data });
    } else if (parsed.data.kind === "import") {
      importChunks.push({ raw, message: parsed.data });
    } else {
      deliveries.push({ raw, message: parsed.data });
    }
  }

  // One budgeted fetch per upstream per invocation, so its rate limit spans every request in the
  // batch, lookups and reconciliation steps alike.
  const fetches = new Map<string, typeof fetch>();
  const fetchFor = (provider: string) => {
    let budgeted = fetches.get(provider);
    if (!budgeted) {
      budgeted = spacedFetch({ perSecond: config.upstreamMaxRequestsPerSecond, maxRequests: UPSTREAM_REQUESTS_PER_INVOCATION });
      fetches.set(provider, budgeted);
    }
    return budgeted;
  };
  const upstreams = new Map<string, RefreshUpstream | null>();
  const upstreamFor = (provider: string) => {
    if (!upstreams.has(provider)) upstreams.set(provider, providerModules.get(provider)?.refreshUpstream?.(env, fetchFor(provider)) ?? null);
    return upstreams.get(provider) ?? null;
  };
  const clientFor = (provider: string) => reconcileSources.get(provider)?.clientFromEnv(env, fetchFor(provider)) ?? null;
  if (deliveries.length) await applyEventBatch(deliveries, env.DB, { ...options, upstreamFor, queue: env.EVENTS_QUEUE, config });
  // Bulk import rows (src/import): one chunk at a time through the same writes.
  if (importChunks.length) await applyImportChunks(importChunks, env.DB, { ...options, upstreamFor, queue: env.EVENTS_QUEUE, config });
  if (reconcileSteps.length) {
    await runReconcileSteps(reconcileSteps, { ...options, d1: env.DB, queue: env.EVENTS_QUEUE, clientFor, config: () => reconcileConfig(env) });
  }
  // Every message above is acked or retried by now; relaying never fails the batch.
  await relayFromEnv(env, now);
}
