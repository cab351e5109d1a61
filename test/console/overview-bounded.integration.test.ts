import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { CHART_HOURS, COUNT_CAP } from "../../src/console/overview";
import { HOUR_MS, hourOf } from "../../src/consumer/pipeline-hourly";
import { eventStatuses } from "../../src/directory/schema";
import { signInConsole } from "../support/console";
import { countingD1 } from "../support/d1";

/**
 * The overview over 100,000 events, 100,000 dead letters, 100,000 hourly counter rows (eleven
 * years of hours, every status), 10,000 runs and 5,000 pending notifications, metered in D1 rows
 * read (every read: `meterEveryRead`). Its reads do not grow with the tables: the chart reads its
 * 24 hours, each count stops at COUNT_CAP, each provider's last run is one index seek.
 */

const ROWS = 100_000;
const RUNS = 10_000;
const PENDING = 5_000;
const now = Date.now();

/** Three capped counts, the chart's rows, and a few single-row reads (runs, feed state, SELECT 1). */
const ROWS_READ_BOUND = 3 * (COUNT_CAP + 1) + CHART_HOURS * eventStatuses.length + 50;

const numbers = (n: number) => `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${n})`;

beforeAll(async () => {
  await env.DB.exec("DELETE FROM event_log; DELETE FROM dead_letters; DELETE FROM pipeline_hourly; DELETE FROM reconcile_runs; DELETE FROM change_deliveries;");
  // 100,000 events: every status, 3% dead-lettered (3,000: past the cap).
  await env.DB.prepare(
    `${numbers(ROWS)}
     INSERT INTO event_log (provider, event_id, source_type, status, attempts, received_at, updated_at)
     SELECT CASE WHEN i % 2 = 0 THEN 'firstup' ELSE 'scalekit' END, printf('evt_%06d', i), 'user.updated',
            CASE WHEN i % 100 < 3 THEN 'dead_lettered' WHEN i % 100 < 8 THEN 'failed' WHEN i % 100 < 9 THEN 'held' WHEN i % 100 < 12 THEN 'ignored' ELSE 'applied' END,
            1, ?1 - i * 1000, ?1 - i * 1000
     FROM numbers`,
  )
    .bind(now)
    .run();
  await env.DB.prepare(
    `${numbers(ROWS)}
     INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at)
     SELECT printf('msg_%06d', i), 'scalekit', printf('evt_%06d', i), '{}', ?1 - i * 1000 FROM numbers`,
  )
    .bind(now)
    .run();
  // Hour by hour back from this one, every status each hour.
  await env.DB.prepare(
    `${numbers(ROWS)}
     INSERT INTO pipeline_hourly (hour, status, events)
     SELECT ?1 - ((i - 1) / ${eventStatuses.length}) * ${HOUR_MS}, json_extract(?2, '$[' || ((i - 1) % ${eventStatuses.length}) || ']'), i % 50 + 1
     FROM numbers`,
  )
    .bind(hourOf(now), JSON.stringify(eventStatuses))
    .run();
  await env.DB.prepare(
    `${numbers(RUNS)}
     INSERT INTO reconcile_runs (id, provider, status, phase, trigger, scope, started_at, updated_at, finished_at, created, updated, deactivated)
     SELECT printf('run_%05d', i), CASE WHEN i % 2 = 0 THEN 'firstup' ELSE 'scalekit' END, 'completed', 'done', 'cron', printf('dir_%d', i % 40),
            ?1 - i * 60000, ?1 - i * 60000, ?1 - i * 60000, i % 7, i % 11, i % 3
     FROM numbers`,
  )
    .bind(now)
    .run();
  await env.DB.prepare(
    `${numbers(PENDING)}
     INSERT INTO change_deliveries (seq, subject_key, status, attempts, updated_at) SELECT i, 'scalekit' || char(9) || 'u_' || i, 'pending', 0, ?1 FROM numbers`,
  )
    .bind(now)
    .run();
  expect(
    await env.DB.prepare(
      "SELECT (SELECT count(*) FROM event_log) AS events, (SELECT count(*) FROM dead_letters) AS letters, (SELECT count(*) FROM pipeline_hourly) AS hourly, (SELECT count(*) FROM reconcile_runs) AS runs",
    ).first(),
  ).toEqual({ events: ROWS, letters: ROWS, hourly: ROWS, runs: RUNS });
});

describe("the overview over 100,000 rows", () => {
  it(`reads at most ${ROWS_READ_BOUND} D1 rows, whatever the tables hold, and shows the capped counts as such`, async () => {
    const d1 = countingD1(env.DB, undefined, { meterEveryRead: true });
    const admin = await signInConsole({
      overrides: { DB: d1.db, APP_WEBHOOK_URL: "https://app.example.com/hooks", APP_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
    });
    d1.reset();
    const response = await admin.get("/admin");
    expect(response.status).toBe(200);
    const html = await response.text();
    const { read } = d1.rows();
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThanOrEqual(ROWS_READ_BOUND);

    // Capped, and said so: "1,000+".
    expect(html).toContain(`data-testid="dead-letter-count" data-count="${COUNT_CAP}" data-capped="true">1,000+</p>`);
    expect(html).toContain('data-testid="dead-lettered-events">1,000+</strong>');
    expect(html).toContain('data-testid="notifications-pending">1,000+<');

    // The chart shows exactly the last 24 hours of counters, not the eleven years before them.
    const expected = await env.DB.prepare("SELECT status, sum(events) AS total FROM pipeline_hourly WHERE hour > ?1 GROUP BY status")
      .bind(hourOf(now) - CHART_HOURS * HOUR_MS)
      .all<{ status: string; total: number }>();
    const shown = Object.fromEntries([...html.matchAll(/data-testid="chart-total" data-status="([a-z_]+)" data-total="(\d+)"/g)].map((m) => [m[1], Number(m[2])]));
    expect(shown).toEqual(Object.fromEntries(expected.results.map((row) => [row.status, row.total])));
    expect(Object.keys(shown)).toHaveLength(eventStatuses.length);

    // The latest run of each provider, out of 10,000.
    expect([...html.matchAll(/data-testid="run-row" data-provider="([a-z]+)" data-run-id="([^"]+)"/g)].map((m) => [m[1], m[2]])).toEqual([
      ["scalekit", "run_00001"],
      ["firstup", "run_00002"],
    ]);
  });
});
