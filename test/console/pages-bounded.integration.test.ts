import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_SCAN_WINDOW } from "../../src/consumer/operator-reads";
import { CONSOLE_PAGE_SIZE } from "../../src/http/console/pages";
import { signInConsole, type ConsoleClient } from "../support/console";
import { hrefOf, rowsOf } from "../support/console-html";
import { countingD1 } from "../support/d1";

/**
 * Every console page of this part (event log, event detail, dead letters, runs, directories) over
 * 100,000 events, 20,000 dead letters, 5,000 runs and 2,000 directories, each page metered in D1
 * rows read (every read, drizzle's included: `meterEveryRead`). A page reads a bound that does not
 * grow with the tables: at most two scan windows and two pages for event listings, a few pages'
 * worth for the rest.
 */

const EVENTS = 100_000;
const DEAD_LETTERS = 20_000;
const RUNS = 5_000;
const DIRECTORIES = 2_000;
const BASE_TIME = Date.parse("2026-09-01T00:00:00Z");

/** An event listing: one window for the page, one to find the window's end, and the page's rows. */
const EVENT_PAGE_BOUND = 2 * EVENT_SCAN_WINDOW + 2 * CONSOLE_PAGE_SIZE + 10;
/** Dead letters (each with one event lookup), runs, directories plus connections: a few pages. */
const LIST_PAGE_BOUND = 4 * CONSOLE_PAGE_SIZE + 10;

let d1: ReturnType<typeof countingD1>;
let admin: ConsoleClient;

beforeAll(async () => {
  await env.DB.exec("DELETE FROM event_log; DELETE FROM dead_letters; DELETE FROM reconcile_runs; DELETE FROM directories;");
  // A quarter firstup; three in ten failed (many more than a window, so a failed listing filtered by
  // something the index lacks would read far past the bound unwindowed), a few ignored and
  // dead-lettered, the rest applied; received times a permutation of the ids.
  await env.DB.prepare(
    `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${EVENTS})
     INSERT INTO event_log (provider, event_id, source_type, status, reason, error, attempts, received_at, updated_at)
     SELECT CASE WHEN i % 4 = 0 THEN 'firstup' ELSE 'scalekit' END, printf('evt_%06d', i),
            CASE i % 3 WHEN 0 THEN 'user.updated' WHEN 1 THEN 'user.created' ELSE 'group.updated' END,
            CASE WHEN i % 997 = 0 THEN 'ignored' WHEN i % 1999 = 0 THEN 'dead_lettered' WHEN i % 10 < 3 THEN 'failed' ELSE 'applied' END,
            CASE WHEN i % 997 = 0 THEN 'unsupported_event_type' END,
            CASE WHEN i % 10 < 3 THEN 'Error: upstream answered 503' END,
            1, ?1 + ((i * 7919) % ${EVENTS}) * 1000, ?1 + ((i * 7919) % ${EVENTS}) * 1000
     FROM numbers`,
  )
    .bind(BASE_TIME)
    .run();
  await env.DB.prepare(
    `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${DEAD_LETTERS})
     INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at)
     SELECT printf('msg_%06d', i), CASE WHEN (i * 5) % 4 = 0 THEN 'firstup' ELSE 'scalekit' END, printf('evt_%06d', i * 5),
            '{"v":2,"kind":"event"}', ?1 + i * 1000
     FROM numbers`,
  )
    .bind(BASE_TIME)
    .run();
  await env.DB.prepare(
    `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${RUNS})
     INSERT INTO reconcile_runs (id, provider, status, phase, trigger, scope, started_at, updated_at, finished_at, scanned, created)
     SELECT printf('run_%06d', i), CASE WHEN i % 2 = 0 THEN 'firstup' ELSE 'scalekit' END,
            CASE WHEN i % 100 = 0 THEN 'guard_tripped' ELSE 'completed' END, 'done', 'cron', printf('dir_%d', i % 50),
            ?1 + i * 60000, ?1 + i * 60000 + 5000, ?1 + i * 60000 + 5000, 100, 1
     FROM numbers`,
  )
    .bind(BASE_TIME)
    .run();
  await env.DB.prepare(
    `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${DIRECTORIES})
     INSERT INTO directories (provider, id, organization_id, directory_type, idp_provider, enabled, status, last_event_at, last_event_version, created_at, updated_at)
     SELECT 'scalekit', printf('dir_%05d', i), printf('org_%d', i), 'SCIM', 'OKTA', 1, 'active', ?1, 'v', ?1, ?1 FROM numbers`,
  )
    .bind(BASE_TIME)
    .run();
  const counts = await env.DB.prepare(
    "SELECT (SELECT count(*) FROM event_log) AS events, (SELECT count(*) FROM dead_letters) AS letters, (SELECT count(*) FROM reconcile_runs) AS runs",
  ).first();
  expect(counts).toEqual({ events: EVENTS, letters: DEAD_LETTERS, runs: RUNS });

  d1 = countingD1(env.DB, undefined, { meterEveryRead: true });
  admin = await signInConsole({ overrides: { DB: d1.db } });
}, 120_000);

/** One page, metered: its status, HTML and D1 rows read. */
async function metered(path: string) {
  d1.reset();
  const response = await admin.get(path);
  const html = await response.text();
  expect(response.status, path).toBe(200);
  return { html, rowsRead: d1.rows().read };
}

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 16);

describe("console pages over 100,000 events stay bounded", () => {
  it.each([
    ["every event (key order)", "/admin/console/events"],
    ["applied", "/admin/console/events?status=applied"],
    ["ignored (a few among many)", "/admin/console/events?status=ignored"],
    ["failed, newest first", "/admin/console/events?status=failed"],
    ["failed of one provider", "/admin/console/events?status=failed&provider=firstup"],
    ["failed of a provider with none", "/admin/console/events?status=failed&provider=nobody"],
    ["failed of a type with none", "/admin/console/events?status=failed&type=nothing.happened"],
    ["dead-lettered", "/admin/console/events?status=dead_lettered"],
    ["one provider", "/admin/console/events?provider=firstup"],
    ["one type", "/admin/console/events?type=user.updated"],
    ["a time range", `/admin/console/events?from=${utc(BASE_TIME + 3_600_000)}&to=${utc(BASE_TIME + 7_200_000)}`],
    ["failed in a time range", `/admin/console/events?status=failed&from=${utc(BASE_TIME + 3_600_000)}&to=${utc(BASE_TIME + 7_200_000)}`],
  ])("event log, %s: one page reads at most two windows", async (_, path) => {
    const first = await metered(path);
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThanOrEqual(EVENT_PAGE_BOUND);
    const next = hrefOf(first.html, "next-page");
    if (next) {
      const second = await metered(next);
      expect(second.rowsRead).toBeLessThanOrEqual(EVENT_PAGE_BOUND);
    }
  });

  it("the event log's pages hold what they say: a full first page of failures, and key-order pages go on", async () => {
    const failed = await metered("/admin/console/events?status=failed&provider=firstup");
    expect(rowsOf(failed.html, "event-row").length).toBe(CONSOLE_PAGE_SIZE);
    const all = await metered("/admin/console/events");
    expect(rowsOf(all.html, "event-row").length).toBe(CONSOLE_PAGE_SIZE);
    expect(hrefOf(all.html, "next-page")).not.toBeNull();
    // A rare status in key order: a page scans one window and says so.
    const ignored = await metered("/admin/console/events?status=ignored");
    expect(rowsOf(ignored.html, "event-row").length).toBeLessThan(CONSOLE_PAGE_SIZE);
    expect(ignored.html).toContain(`scanned at most ${EVENT_SCAN_WINDOW.toLocaleString("en-US")} keys`);
    expect(hrefOf(ignored.html, "next-page")).not.toBeNull();
  });

  it("an event's detail reads its row", async () => {
    const page = await metered("/admin/console/events/firstup/evt_000004");
    expect(page.rowsRead).toBeGreaterThan(0);
    expect(page.rowsRead).toBeLessThanOrEqual(10);
  });

  it("dead letters: newest first, a page and its events' statuses, bounded on the first page and the next", async () => {
    const first = await metered("/admin/console/dead-letters");
    const rows = rowsOf(first.html, "dead-letter-row");
    expect(rows.map((row) => row.attributes["data-message-id"])).toEqual(
      Array.from({ length: CONSOLE_PAGE_SIZE }, (_, i) => `msg_${String(DEAD_LETTERS - i).padStart(6, "0")}`),
    );
    // Each row shows its event's status now: msg_020000's event is evt_100000 (i * 5).
    const newest = await env.DB.prepare("SELECT status FROM event_log WHERE provider = 'firstup' AND event_id = 'evt_100000'").first<{ status: string }>();
    expect(rows[0]!.status).toBe(newest!.status);
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
    const second = await metered(hrefOf(first.html, "next-page")!);
    expect(rowsOf(second.html, "dead-letter-row")[0]!.attributes["data-message-id"]).toBe(`msg_${String(DEAD_LETTERS - CONSOLE_PAGE_SIZE).padStart(6, "0")}`);
    expect(second.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
  });

  it("runs: newest first, bounded on the first page, the next, and a run's report", async () => {
    const first = await metered("/admin/console/runs");
    const rows = rowsOf(first.html, "run-row");
    expect(rows.map((row) => row.attributes["data-run-id"])).toEqual(
      Array.from({ length: CONSOLE_PAGE_SIZE }, (_, i) => `run_${String(RUNS - i).padStart(6, "0")}`),
    );
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
    const second = await metered(hrefOf(first.html, "next-page")!);
    expect(second.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
    const report = await metered("/admin/console/runs/run_004900");
    expect(report.html).toContain('data-testid="guard-reason"');
    expect(report.rowsRead).toBeLessThanOrEqual(10);
  });

  it("directories and connections: one page of each, bounded", async () => {
    const first = await metered("/admin/console/directories");
    expect(rowsOf(first.html, "directory-row").length).toBe(CONSOLE_PAGE_SIZE);
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
    const next = hrefOf(first.html, "directories-next");
    expect(next).not.toBeNull();
    const second = await metered(next!);
    expect(rowsOf(second.html, "directory-row")[0]!.html).toContain(`dir_${String(CONSOLE_PAGE_SIZE + 1).padStart(5, "0")}`);
    expect(second.rowsRead).toBeLessThanOrEqual(LIST_PAGE_BOUND);
  });
});
