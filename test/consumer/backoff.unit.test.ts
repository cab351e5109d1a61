import { expect, it } from "vitest";
import { retryDelaySeconds } from "../../src/consumer/backoff";

it("doubles the delay with each attempt, jittered within the upper half, capped at an hour", () => {
  const low = () => 0;
  const high = () => 1;
  expect([1, 2, 3, 4].map((attempts) => retryDelaySeconds(attempts, 10, high))).toEqual([10, 20, 40, 80]);
  expect([1, 2, 3, 4].map((attempts) => retryDelaySeconds(attempts, 10, low))).toEqual([5, 10, 20, 40]);
  expect(retryDelaySeconds(30, 10, high)).toBe(3600);
  expect(retryDelaySeconds(1, 0, high)).toBe(0);
});
