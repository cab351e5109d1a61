import { sql, type SQL } from "drizzle-orm";
import type { EventStatus } from "../directory/schema";

/**
 * The hourly counters behind the console's chart (pipeline_hourly, migration 0012): how many events
 * entered each status in each hour, counted as outcomes are recorded.
 *
 * One statement per batch of outcomes, whatever its size: it groups the batch's keys by status and
 * adds each group to its hour's row, so a consumer batch writes one counter row per status it
 * recorded (about 1/50 of a row per event at a typical batch of 50), not one per event. It runs in
 * the same D1 batch as the outcomes, before them, so it commits or rolls back with them and can
 * still see each event's previous status:
 * - an event is counted when its row enters a status it did not have (a redelivered `ignored`
 *   event, a second failed attempt, a held SCIM write retried by its IdP are not counted again);
 * - an outcome that the event log's write will not record (a failure of an event already applied
 *   or ignored) is not counted either.
 * So an event that failed and later applied counts once as failed and once as applied, each in the
 * hour it happened.
 */

export const HOUR_MS = 3_600_000;

export const hourOf = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

export interface CountedOutcome {
  provider: string;
  eventId: string;
  status: EventStatus;
}

/**
 * `entered` (default): counted unless the row already has this status, or is applied or ignored and
 * the new status is neither (those writes never downgrade a finished event).
 * `new_row`: counted only when the event has no row yet (writes that never touch an existing row's
 * status: a held SCIM write's first message, a quarantined delivery).
 */
export type CountWhen = "entered" | "new_row";

/**
 * `kept`: the statuses the write never overwrites with another (default applied and ignored; a
 * bulk import's dead-lettered chunk also keeps its held rows: event-log.ts recordDeadLetteredRows).
 */
export function countOutcomes(outcomes: CountedOutcome[], now: number, when: CountWhen = "entered", kept: readonly EventStatus[] = ["applied", "ignored"]): SQL[] {
  if (outcomes.length === 0) return [];
  const keys = JSON.stringify(outcomes.map((outcome) => [outcome.provider, outcome.eventId, outcome.status]));
  const keptList = JSON.stringify(kept);
  const already =
    when === "new_row"
      ? sql`true`
      : sql`(e.status = r.value ->> 2 OR (r.value ->> 2 NOT IN (SELECT value FROM json_each(${keptList})) AND e.status IN (SELECT value FROM json_each(${keptList}))))`;
  return [
    sql`
    INSERT INTO pipeline_hourly (hour, status, events)
    SELECT ${hourOf(now)}, r.value ->> 2, count(*) FROM json_each(${keys}) AS r
    WHERE NOT EXISTS (SELECT 1 FROM event_log AS e WHERE e.provider = r.value ->> 0 AND e.event_id = r.value ->> 1 AND ${already})
    GROUP BY r.value ->> 2
    ON CONFLICT (hour, status) DO UPDATE SET events = pipeline_hourly.events + excluded.events`,
  ];
}
