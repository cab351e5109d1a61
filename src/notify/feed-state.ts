import { sql, type SQL } from "drizzle-orm";

/**
 * The notification side of `feed_state` (named counters; src/directory/schema.ts):
 * - `relayed_through`: the highest change seq that has a delivery row (src/notify/relay.ts);
 * - `endpoint_disabled`: present while the app's endpoint is switched off (value: when, ms;
 *   note: why). Set on a 410, cleared by POST /admin/notifications/enable.
 */
export const RELAYED_THROUGH = "relayed_through";
export const ENDPOINT_DISABLED = "endpoint_disabled";

export interface NotifyFeedState {
  relayedThrough: number;
  /** The newest change's seq (0 when there is none). */
  latestSeq: number;
  disabled: { at: number; note: string | null } | null;
}

/** One read: what the relay, the watchdog and GET /admin/notifications start from. */
export async function readNotifyFeedState(d1: D1Database): Promise<NotifyFeedState> {
  const row = await d1
    .prepare(
      `SELECT (SELECT value FROM feed_state WHERE key = ?1) AS relayed_through,
              (SELECT max(seq) FROM changes) AS latest_seq,
              (SELECT value FROM feed_state WHERE key = ?2) AS disabled_at,
              (SELECT note FROM feed_state WHERE key = ?2) AS disabled_note`,
    )
    .bind(RELAYED_THROUGH, ENDPOINT_DISABLED)
    .first<{ relayed_through: number | null; latest_seq: number | null; disabled_at: number | null; disabled_note: string | null }>();
  return {
    relayedThrough: row?.relayed_through ?? 0,
    latestSeq: row?.latest_seq ?? 0,
    disabled: row?.disabled_at == null ? null : { at: row.disabled_at, note: row.disabled_note },
  };
}

/** Switches the endpoint off; the first reason is kept if it already is. */
export function disableEndpointStatement(now: number, note: string): SQL {
  return sql`INSERT INTO feed_state (key, value, note) VALUES (${ENDPOINT_DISABLED}, ${now}, ${note}) ON CONFLICT (key) DO NOTHING`;
}

/** Switches the endpoint back on; whether it was off. */
export async function enableEndpoint(d1: D1Database): Promise<boolean> {
  const result = await d1.prepare("DELETE FROM feed_state WHERE key = ?").bind(ENDPOINT_DISABLED).run();
  return result.meta.changes > 0;
}

/** Moves `relayed_through` forward to the highest seq in the relayed window, never back. */
export function advanceRelayedThroughStatement(windowMaxSeq: SQL): SQL {
  return sql`INSERT INTO feed_state (key, value) SELECT ${RELAYED_THROUGH}, (${windowMaxSeq}) WHERE (${windowMaxSeq}) IS NOT NULL
             ON CONFLICT (key) DO UPDATE SET value = max(coalesce(feed_state.value, 0), excluded.value)
             RETURNING value`;
}
