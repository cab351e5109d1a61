/**
 * Spaces requests to one upstream at most `perSecond` apart, however many lookups run
 * concurrently: SCIM APIs throttle per client (429s cost retries and budget), and a burst of
 * events must not become a burst of reads. Scope: one consumer invocation (one client).
 *
 * @example
 * const limited = spacedFetch(10); // at most 10 requests a second
 * await limited("https://upstream.example/scim/v2/Users/u_1");
 */
export function spacedFetch(
  perSecond: number,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  clock: { now: () => number; sleep: (ms: number) => Promise<void> } = {
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
): typeof fetch {
  const intervalMs = 1000 / perSecond;
  let nextSlot = 0;
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const now = clock.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + intervalMs;
    if (slot > now) await clock.sleep(slot - now);
    return fetchImpl(input, init);
  }) as typeof fetch;
}
