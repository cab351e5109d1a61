/**
 * When a notification is tried again. Delays are Queue delays, so at most 12 hours.
 *
 * After n failed tries the next waits 5 s × 4^(n-1): 5 s, 20 s, 80 s, 5 min, 21 min, 85 min,
 * 5.7 h, then 12 h. With NOTIFY_MAX_ATTEMPTS = 8 a change is given up about 7.6 hours after its
 * first try, long enough to ride out an app deploy or a short outage, and the operator can replay.
 */
const BASE_SECONDS = 5;
const FACTOR = 4;
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;
/** A Retry-After beyond this is not honoured as given: one answer cannot park a change for a day. */
const MAX_RETRY_AFTER_SECONDS = 60 * 60;
/** A delivery waiting behind an older change of its subject looks again within these bounds. */
export const MIN_WAIT_SECONDS = 10;
const MAX_WAIT_SECONDS = 15 * 60;

export function retryDelaySeconds(failedTries: number): number {
  return Math.min(MAX_QUEUE_DELAY_SECONDS, BASE_SECONDS * FACTOR ** Math.max(0, failedTries - 1));
}

/** The backoff, or the app's Retry-After (up to an hour) when it asks for longer. */
export function delayAfterFailure(failedTries: number, retryAfterMs: number | null): number {
  const asked = retryAfterMs === null ? 0 : Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil(retryAfterMs / 1000));
  return Math.max(retryDelaySeconds(failedTries), asked);
}

/**
 * How long a delivery waits behind an older pending change of its subject before looking again:
 * until that one's next try is due (its `next_attempt_at`, Retry-After included, or the end of its
 * lease), within [10 s, 15 min]. Settling the blocker also sends the next delivery at once
 * (deliver.ts), so this is the fallback, not the usual path.
 */
export function waitDelaySeconds(blockerDueAt: number, now: number): number {
  const seconds = Math.ceil((blockerDueAt - now) / 1000) + MIN_WAIT_SECONDS;
  return Math.min(MAX_WAIT_SECONDS, Math.max(MIN_WAIT_SECONDS, seconds));
}

/** A copy that found the delivery leased looks again just after the lease ends (at most a minute and a bit). */
export function leaseWaitSeconds(leaseUntil: number, now: number): number {
  return Math.max(1, Math.ceil((leaseUntil - now) / 1000) + 1);
}
