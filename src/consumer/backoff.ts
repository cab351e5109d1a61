/** Upper bound on one retry delay; Queues allows up to 12 hours. */
const MAX_RETRY_DELAY_SECONDS = 60 * 60;

/**
 * Exponential backoff from the message's delivery count (1 on first delivery), with full
 * jitter on the upper half so a burst of failures does not come back as a burst.
 */
export function retryDelaySeconds(attempts: number, baseSeconds: number, random = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_SECONDS, baseSeconds * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
