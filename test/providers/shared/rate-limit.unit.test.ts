import { describe, expect, it } from "vitest";
import { spacedFetch } from "../../../src/providers/shared/rate-limit";

describe("spacedFetch", () => {
  it("spaces concurrent requests at most perSecond apart, and sends each exactly once", async () => {
    let now = 1_000;
    const sentAt: number[] = [];
    const sleeps: number[] = [];
    const limited = spacedFetch(
      4,
      async () => {
        sentAt.push(now);
        return new Response("ok");
      },
      { now: () => now, sleep: async (ms) => void sleeps.push(ms) },
    );
    await Promise.all(Array.from({ length: 5 }, () => limited("https://upstream.example/scim/v2/Users/u1")));
    expect(sentAt).toHaveLength(5);
    // The first goes at once; the next four wait 250, 500, 750 and 1000 ms.
    expect(sleeps).toEqual([250, 500, 750, 1000]);
    now += 5_000;
    await limited("https://upstream.example/scim/v2/Users/u2");
    expect(sleeps).toHaveLength(4);
  });

  it("refuses requests past the invocation's budget without sending them", async () => {
    let sent = 0;
    const limited = spacedFetch({ perSecond: 1000, maxRequests: 3 }, async () => {
      sent++;
      return new Response("ok");
    });
    for (let i = 0; i < 3; i++) await limited("https://upstream.example/");
    await expect(limited("https://upstream.example/")).rejects.toThrow(/budget/);
    expect(sent).toBe(3);
  });
});
