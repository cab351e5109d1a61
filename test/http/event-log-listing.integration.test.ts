import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_SCAN_WINDOW } from "../../src/consumer/operator-reads";
import { countingD1 } from "../support/d1";
import { ADMIN } from "../support/seed";
import { callApp } from "../support/worker";

/**
 * GET /admin/events over an event log larger than EVENT_SCAN_WINDOW (migration 0010: applied and
 * ignored events enter no index, so their listings walk the primary key a window at a time, while
 * events that need attention come newest first through their partial index). Each page is metered
 * in D1 rows read: a listing must never read the whole table to fill a page.
 */

const TOTAL = 12_000;
const LIMIT = 200;
const BASE_TIME = Date.parse("2026-10-01T00:00:00Z");

interface EventJson {
  provider: string;
  event_id: string;
  status: string;
  received_at: string;
}

/** One page through the Worker, on a D1 binding that meters it. */
async function page(path: string) {
  // Every read metered: drizzle's raw()/first() reads report no rows otherwise, and the bounds
  // below would hold whatever a page read.
  const d1 = countingD1(env.DB, undefined, { meterEveryRead: true });
  const response = await callApp(new Request(`https://sync.example.com${path}`, { headers: ADMIN }), { DB: d1.db });
  expect(response.status, path).toBe(200);
  const body = (await response.json()) as { events: EventJson[]; next_cursor: string | null };
  const rowsRead = d1.rows().read;
  expect(rowsRead, `${path}: the page's reads are metered`).toBeGreaterThan(0);
  return { ...body, rowsRead, roundTrips: d1.roundTrips() };
}

/** Follows next_cursor until it is null; every page's cost. */
async function walk(query: string, limit = LIMIT) {
  const events: EventJson[] = [];
  const pages: { size: number; rowsRead: number; roundTrips: number }[] = [];
  let cursor: string | null = null;
  for (;;) {
    expect(pages.length, "the walk ends").toBeLessThan(500);
    const result = await page(`/admin/events?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    events.push(...result.events);
    pages.push({ size: result.events.length, rowsRead: result.rowsRead, roundTrips: result.roundTrips });
    cursor = result.next_cursor;
    if (cursor === null) return { events, pages };
  }
}

const keyOf = (row: { provider: string; event_id: string }) => `${row.provider}:${row.event_id}`;
const expected = async (where: string, order = "provider, event_id") =>
  (await env.DB.prepare(`SELECT provider, event_id FROM event_log WHERE ${where} ORDER BY ${order}`).all<{ provider: string; event_id: string }>()).results.map(keyOf);

/**
 * Key-order pages read at most the window twice (the page, and finding the window's end) plus the
 * page's rows; the brief's ceiling is 3 windows. Either is far below the table.
 */
const KEY_ORDER_PAGE_ROWS = 2 * EVENT_SCAN_WINDOW + LIMIT;

describe("GET /admin/events over more events than one scan window", () => {
  beforeAll(async () => {
    await env.DB.exec("DELETE FROM event_log;");
    // Mostly one provider (as in production) so a scan that is bounded only by provider would read
    // to the end of the table; a quarter firstup, interleaved in key order by the id's number.
    // Received times are a permutation of the ids, so time order is not key order.
    await env.DB.prepare(
      `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${TOTAL})
       INSERT INTO event_log (provider, event_id, source_type, status, reason, error, attempts, received_at, updated_at, message)
       SELECT CASE WHEN i % 4 = 0 THEN 'firstup' ELSE 'scalekit' END, printf('evt_%05d', i), 'test',
              CASE WHEN i % 997 = 0 THEN 'ignored' WHEN i % 1499 = 0 THEN 'failed' ELSE 'applied' END,
              CASE WHEN i % 997 = 0 THEN 'unsupported_event_type' END,
              CASE WHEN i % 1499 = 0 AND i % 997 <> 0 THEN 'upstream_unavailable' END,
              1, ?1 + ((i * 7919) % ${TOTAL}) * 1000, ?1 + ((i * 7919) % ${TOTAL}) * 1000,
              CASE WHEN i % 1499 = 0 AND i % 997 <> 0 THEN '{}' END
       FROM numbers`,
    )
      .bind(BASE_TIME)
      .run();
    expect(TOTAL).toBeGreaterThan(2 * EVENT_SCAN_WINDOW);
  });

  it("?status=ignored: pages by next_cursor to the end and finds exactly the ignored events, each page bounded in rows read", async () => {
    const ignored = await expected("status = 'ignored'");
    expect(ignored.length).toBe(Math.floor(TOTAL / 997));
    const { events, pages } = await walk("status=ignored");
    expect(events.map(keyOf)).toEqual(ignored);
    expect(events.every((row) => row.status === "ignored")).toBe(true);
    // Fewer ignored events than a page holds, yet more than one page: each looks at one window.
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(TOTAL / EVENT_SCAN_WINDOW));
    for (const { rowsRead, roundTrips } of pages) {
      expect(rowsRead).toBeLessThanOrEqual(KEY_ORDER_PAGE_ROWS);
      expect(roundTrips).toBe(1);
    }
  });

  it("?status=ignored with a small limit: full pages go on after their last event, and nothing is skipped or repeated", async () => {
    const { events, pages } = await walk("status=ignored", 2);
    expect(events.map(keyOf)).toEqual(await expected("status = 'ignored'"));
    expect(pages.some((p) => p.size === 2)).toBe(true);
    for (const { rowsRead } of pages) expect(rowsRead).toBeLessThanOrEqual(2 * EVENT_SCAN_WINDOW + 2);
  });

  it("no status: every event once, in key order, a page never reading more than its window", async () => {
    const { events, pages } = await walk("");
    expect(events.length).toBe(TOTAL);
    expect(events.map(keyOf)).toEqual(await expected("true"));
    for (const { rowsRead } of pages) expect(rowsRead).toBeLessThanOrEqual(KEY_ORDER_PAGE_ROWS);
  });

  it("?status=failed: newest first through the partial index, a few rows read per page", async () => {
    const failed = await expected("status = 'failed'", "received_at DESC, provider, event_id");
    expect(failed.length).toBeGreaterThan(3);
    const { events, pages } = await walk("status=failed", 3);
    expect(events.map(keyOf)).toEqual(failed);
    const times = events.map((row) => Date.parse(row.received_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // The index holds only events that need attention: a page reads those, never the table.
    for (const { rowsRead } of pages) expect(rowsRead).toBeLessThan(100);
  });

  it("?provider=firstup: only that provider's events, all of them; with a status, only those", async () => {
    const { events, pages } = await walk("provider=firstup");
    expect(events.length).toBe(TOTAL / 4);
    expect(events.every((row) => row.provider === "firstup")).toBe(true);
    expect(events.map(keyOf)).toEqual(await expected("provider = 'firstup'"));
    for (const { rowsRead } of pages) expect(rowsRead).toBeLessThanOrEqual(KEY_ORDER_PAGE_ROWS);

    const ignored = await walk("provider=scalekit&status=ignored");
    expect(ignored.events.map(keyOf)).toEqual(await expected("provider = 'scalekit' AND status = 'ignored'"));
    for (const { rowsRead } of ignored.pages) expect(rowsRead).toBeLessThanOrEqual(KEY_ORDER_PAGE_ROWS);

    const failed = await walk("provider=firstup&status=failed");
    expect(failed.events.map(keyOf)).toEqual(await expected("provider = 'firstup' AND status = 'failed'", "received_at DESC, provider, event_id"));
  });
});
