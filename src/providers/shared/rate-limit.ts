/**
 * Spaces requests to one upstream at most `perSecond` apart, however many lookups run
 * concurrently: SCIM APIs throttle per client (429s cost retries and budget), and a burst of
 * events must not become a burst of reads. Scope: one consumer invocation (one client).
 *
 * @example
 * const limited = spacedFetch({ perSecond: 10, maxRequests: 45 }); // 10 a second, 45 in all
 * await limited("https://upstream.example/scim/v2/Users/u_1");
 */
/** Thrown instead of a request once an invocation's budget is spent: clients fail fast on it, without retrying. */
export class SubrequestBudgetSpent extends Error {
  constructor() {
    super("subrequest budget of this invocation is spent");
    this.name = "SubrequestBudgetSpent";
  }
}

export function spacedFetch(
  perSecond: number | { perSecond: number; maxRequests?: number },
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  clock: { now: () => number; sleep: (ms: number) => Promise<void> } = {
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
): typeof fetch {
  const limits = typeof perSecond === "number" ? { perSecond } : perSecond;
  const intervalMs = 1000 / limits.perSecond;
  let nextSlot = 0;
  let sent = 0;
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    // Past the invocation's subrequest budget, fail fast without a request: the caller's lookup
    // fails as "unavailable" and its message is retried by the queue, instead of the runtime
    // refusing every later subrequest of the invocation.
    if (limits.maxRequests !== undefined && sent >= limits.maxRequests) throw new SubrequestBudgetSpent();
    sent++;
    const now = clock.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + intervalMs;
    if (slot > now) await clock.sleep(slot - now);
    return fetchImpl(input, init);
  }) as typeof fetch;
}
