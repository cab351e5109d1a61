import { configFrom } from "../config";
import { isUpstreamProvider, upstreamClient } from "../upstream";
import { applyEventBatch } from "./apply-batch";
import { recordDeadLetterBatch } from "./dead-letters";

/** Routes a batch to the main consumer or the dead-letter consumer by queue name. */
export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, now: () => number = Date.now): Promise<void> {
  const config = configFrom(env);
  const options = { now, retryBaseSeconds: config.retryBaseSeconds };
  if (batch.queue === config.deadLetterQueue) return recordDeadLetterBatch(batch, env.DB, options);
  const upstreamFor = (provider: string) => (isUpstreamProvider(provider) ? upstreamClient(env, provider) : null);
  return applyEventBatch(batch, env.DB, { ...options, upstreamFor });
}
