import { createScheduledController, env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configProblems } from "../../src/config";
import { runAtomically } from "../../src/d1";
import { createRun, finish, markSeen } from "../../src/reconcile/runs";
import { RETENTION_STEPS, ROUND_TRIPS_PER_INVOCATION, runRetention, type RetentionStep } from "../../src/retention";
import { HOURLY_RECONCILE_CRON, handleScheduled, WATCHDOG_CRON } from "../../src/scheduled";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { count, DAY } from "./support";

/**
 * The watchdog cron runs retention: every table's prune, in order, within one invocation's budget;
 * a bad setting or a failure in one step stops only that step.
 */

const now = Date.now();
let logged: string[] = [];

/** One row past its age in every pruned table (and nothing else), made the way production makes it where that is cheap. */
async function seedExpired() {
  await env.DB.exec(
    "DELETE FROM users; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM change_deliveries; DELETE FROM feed_state; DELETE FROM dead_letters; DELETE FROM event_log; DELETE FROM work_claims; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM destructive_windows;",
  );
  // An ended guard window (written before the current one the erasure below counts in).
  await env.DB.prepare("INSERT INTO destructive_windows (provider, organization_id, window_start, applied) VALUES ('scalekit', 'org_1', ?, 1)").bind(now - 10 * DAY).run();
  await deliverBatch([eventMessage(events.userUpserted("retention_user", 1_000))]);
  // A forgotten user, long ago: the tombstone must outlive every prune.
  await deliverBatch([eventMessage({ provider: "scalekit", sourceType: "test", eventId: "evt_forget", occurredAt: 2_000, kind: "user_forgotten", externalId: "retention_user" })]);
  await env.DB.prepare("UPDATE changes SET recorded_at = ?").bind(now - 40 * DAY).run();
  // A dead letter whose event was replayed and has since been pruned from the event log, and one nobody dealt with.
  await env.DB.prepare("INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at) VALUES ('dl_done', 'scalekit', 'evt_done', '{}', ?1), ('dl_open', NULL, NULL, 'not json', ?1)")
    .bind(now - 40 * DAY)
    .run();
  for (const [id, daysAgo] of [["run_old", 200], ["run_new", 100]] as const) {
    await createRun(env.DB, { id, provider: "firstup", scope: "", trigger: "cron", now: now - daysAgo * DAY });
    await runAtomically(env.DB, [finish(id, "completed", {}, null, now - daysAgo * DAY)]);
  }
  await runAtomically(env.DB, markSeen("run_gone", ["u1"]));
}

const counts = async () => ({
  tombstones: await count("users", "forgotten_at IS NOT NULL"),
  changes: await count("changes"),
  deadLetters: await count("dead_letters"),
  runs: await count("reconcile_runs"),
  scratch: await count("reconcile_seen"),
  windows: await count("destructive_windows"),
});

describe("retention on the watchdog cron", () => {
  beforeEach(() => {
    logged = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
  });
  afterEach(() => vi.restoreAllMocks());

  it("the watchdog prunes every table but keeps tombstones, counts the unresolved dead letter it keeps, and the other triggers prune nothing", async () => {
    await seedExpired();
    const before = { tombstones: 1, changes: 2, deadLetters: 2, runs: 2, scratch: 1, windows: 2 };
    expect(await counts()).toEqual(before);
    await handleScheduled(createScheduledController({ cron: HOURLY_RECONCILE_CRON }), env, () => now);
    expect(await counts()).toEqual(before);

    await handleScheduled(createScheduledController({ cron: WATCHDOG_CRON }), env, () => now);
    // The newest change stays however old: seq has no AUTOINCREMENT (changes/retention.ts).
    expect(await counts()).toEqual({ tombstones: 1, changes: 1, deadLetters: 1, runs: 1, scratch: 0, windows: 1 });
    expect(logged.map((line) => JSON.parse(line))).toContainEqual({ event: "retention.dead_letters", deleted: 1, keptUnresolved: 1 });
  });

  it("holds one invocation within its budget, and each step within its own figure", async () => {
    expect(RETENTION_STEPS.reduce((sum, step) => sum + step.maxRoundTrips, 0)).toBeLessThanOrEqual(ROUND_TRIPS_PER_INVOCATION);
    await seedExpired();
    // Notifications on, with the change relayed: the change prune takes its longest path.
    const notifyEnv = { ...env, APP_WEBHOOK_URL: "https://app.example/hook", APP_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } as Env;
    await env.DB.exec("INSERT INTO feed_state (key, value) SELECT 'relayed_through', max(seq) FROM changes");
    for (const step of RETENTION_STEPS) {
      const d1 = countingD1(env.DB);
      await step.run(d1.db, now, notifyEnv);
      expect(d1.roundTrips(), step.name).toBeLessThanOrEqual(step.maxRoundTrips);
    }
    await seedExpired();
    const d1 = countingD1(env.DB);
    await runRetention({ ...env, DB: d1.db }, now);
    expect(await counts()).toEqual({ tombstones: 1, changes: 1, deadLetters: 1, runs: 1, scratch: 0, windows: 1 });
    expect(d1.roundTrips()).toBeLessThanOrEqual(ROUND_TRIPS_PER_INVOCATION);
  });

  it("an invalid RETENTION_DAYS stops only the steps that read the retention settings, and /healthz names it", async () => {
    await seedExpired();
    const broken = { ...env, RETENTION_DAYS: "7" } as Env;
    expect(configProblems(broken)).toContainEqual({ setting: "RETENTION_DAYS", problem: "too_small" });
    await runRetention(broken, now);
    // Dead letters and run reports read the retention settings; the change feed, scratch and windows do not.
    expect(await counts()).toEqual({ tombstones: 1, changes: 1, deadLetters: 2, runs: 2, scratch: 0, windows: 1 });
    expect(logged.map((line) => JSON.parse(line))).toContainEqual({ event: "retention.not_run", step: "dead_letters", invalid: ["RETENTION_DAYS: too_small"] });
  });

  it("defers a step the invocation's budget cannot cover, and a failing step does not stop the next", async () => {
    const ran: string[] = [];
    const step = (name: string, maxRoundTrips: number, fail = false): RetentionStep => ({
      name,
      maxRoundTrips,
      run: async () => {
        ran.push(name);
        if (fail) throw new Error("D1_ERROR: database is locked");
        return { deleted: 1 };
      },
    });
    await runRetention(env, now, [step("first", ROUND_TRIPS_PER_INVOCATION - 3, true), step("too_big", 4), step("fits", 3)]);
    expect(ran).toEqual(["first", "fits"]);
    expect(logged.map((line) => JSON.parse(line))).toEqual([
      { event: "retention.failed", step: "first", error: "Error: D1_ERROR: database is locked" },
      { event: "retention.deferred", step: "too_big" },
      { event: "retention.fits", deleted: 1 },
    ]);
  });
});
