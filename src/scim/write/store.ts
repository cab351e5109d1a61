import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { recordOutcomes, type OutcomeRow } from "../../consumer/event-log";
import { runAtomically } from "../../d1";
import { membersOf, membershipsOf, UNSCOPED, type GroupRow, type UserRow } from "../../directory/read";
import { groups, users } from "../../directory/schema";
import { directoryWrites } from "../../directory/writes";
import type { DirectoryEvent } from "../../events";
import { foldCase } from "../../directory/fold";
import { QUEUE_MESSAGE_VERSION } from "../../queue-message";

/**
 * Reads and writes of one SCIM connection's users and groups. Every read is keyed by the
 * connection's provider (`scim-<id>`), so no id can reach another connection's records or a
 * webhook or reconciliation provider's. Every write is a neutral event applied through
 * directory/writes.ts, in one D1 batch with its event_log row
 * (consumer/event-log.ts), so the change feed records it like any other source.
 */

/** A live user of the provider (soft-deleted ones are gone for SCIM). */
export async function liveUser(d1: D1Database, provider: string, id: string): Promise<UserRow | null> {
  return (await drizzle(d1).select().from(users).where(and(eq(users.provider, provider), eq(users.externalId, id), isNull(users.deletedAt))).get()) ?? null;
}

export async function liveGroup(d1: D1Database, provider: string, id: string): Promise<GroupRow | null> {
  return (await drizzle(d1).select().from(groups).where(and(eq(groups.provider, provider), eq(groups.externalId, id), isNull(groups.deletedAt))).get()) ?? null;
}

/** The live group of the provider with this displayName (case-insensitive), if any. */
export async function groupByName(d1: D1Database, provider: string, name: string): Promise<GroupRow | null> {
  return (
    (await drizzle(d1)
      .select()
      .from(groups)
      .where(and(eq(groups.provider, provider), eq(groups.nameKey, foldCase(name)), isNull(groups.deletedAt)))
      .get()) ?? null
  );
}

/** The live user of the provider with this userName (case-insensitive), if any. */
export async function userByUserName(d1: D1Database, provider: string, userName: string): Promise<UserRow | null> {
  return (
    (await drizzle(d1)
      .select()
      .from(users)
      .where(and(eq(users.provider, provider), eq(users.userNameKey, foldCase(userName)), isNull(users.deletedAt)))
      .get()) ?? null
  );
}

/** Which of `ids` are live users of the provider. */
export async function liveUserIds(d1: D1Database, provider: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await d1
    .prepare("SELECT external_id FROM users WHERE provider = ? AND deleted_at IS NULL AND external_id IN (SELECT value FROM json_each(?))")
    .bind(provider, JSON.stringify(ids))
    .all<{ external_id: string }>();
  return new Set(rows.results.map((row) => row.external_id));
}

export const groupsOfUser = (d1: D1Database, row: UserRow) => membershipsOf(d1, [row], UNSCOPED);
export const memberIdsOf = async (d1: D1Database, row: GroupRow) => (await membersOf(d1, [row], UNSCOPED)).map((member) => member.userExternalId);

/** The newest membership version of a group: a membership write must come after it. */
export async function membershipFloor(d1: D1Database, provider: string, groupId: string): Promise<string | null> {
  const row = await d1
    .prepare(
      `SELECT max(v) AS v FROM (
         SELECT max(last_event_version) AS v FROM membership_versions WHERE provider = ?1 AND group_external_id = ?2
         UNION ALL SELECT version FROM membership_resets WHERE provider = ?1 AND subject = 'group' AND external_id = ?2)`,
    )
    .bind(provider, groupId)
    .first<{ v: string | null }>();
  return row?.v ?? null;
}

/**
 * The time of a write: now, or just after the newest version it builds on when that is not older
 * (two requests in one millisecond, or a clock behind). A later request therefore always wins
 * over the state it read, whatever the tie-breaking id.
 */
export function nextClock(now: number, floors: (string | null | undefined)[]): { occurredAt: number; occurredAtNanos: number } {
  let occurredAt = now;
  let occurredAtNanos = 0;
  for (const floor of floors) {
    const match = floor ? /^(\d{15})(\d{6})\|/.exec(floor) : null;
    if (!match) continue;
    const ms = Number(match[1]);
    const nanos = Number(match[2]);
    if (ms > occurredAt || (ms === occurredAt && nanos >= occurredAtNanos)) {
      occurredAt = ms;
      occurredAtNanos = nanos + 1;
      if (occurredAtNanos > 999_999) {
        occurredAt += 1;
        occurredAtNanos = 0;
      }
    }
  }
  return { occurredAt, occurredAtNanos };
}

/** A name that must stay unique among the live records of a provider: a user's userName, a group's displayName. */
export interface UniqueName {
  table: "users" | "groups";
  provider: string;
  name: string;
}

/**
 * Applies the events and records them as applied in one batch: all or nothing.
 *
 * `unique`: the batch also fails (and nothing is written) if, once applied, two live records of the
 * provider share this name (case-insensitive), so two concurrent POSTs cannot both pass the check
 * made before them. D1 runs a batch as one transaction; the guard inserts the same
 * work_claims key twice when the count is over one, so the primary key aborts it. Returns
 * false in that case.
 *
 * `guard`: the destructive guard's window increment and in-batch re-check
 * (consumer/destructive-guard.ts planDestructive), run in this batch so a deactivation and the
 * budget it spends commit together or not at all; a failed re-check surfaces as the error
 * isGuardRecheckFailure recognizes (scim/write/guard.ts handles it).
 */
export async function commit(
  d1: D1Database,
  events: DirectoryEvent[],
  now: number,
  unique?: UniqueName,
  expect?: Expectation,
  guard: SQL[] = [],
): Promise<boolean> {
  if (events.length === 0) return true;
  const outcomes: OutcomeRow[] = events.map((event) => ({ message: { v: QUEUE_MESSAGE_VERSION, kind: "event", event, receivedAt: now }, attempts: 1, note: null }));
  const statements = [...staleGuards(events[0]!.eventId, now, expect), ...directoryWrites(events, now), ...recordOutcomes(outcomes, now), ...guard];
  if (unique) {
    const key = foldCase(unique.name);
    const holders =
      unique.table === "users"
        ? sql`(SELECT count(*) FROM users WHERE provider = ${unique.provider} AND user_name_key = ${key} AND deleted_at IS NULL)`
        : sql`(SELECT count(*) FROM groups WHERE provider = ${unique.provider} AND name_key = ${key} AND deleted_at IS NULL)`;
    statements.push(sql`
      INSERT INTO work_claims (scope, key, claimed_at)
      SELECT ${unique.provider}, ${`scim-unique-guard:${events[0]!.eventId}`}, ${now} FROM (SELECT 1 UNION ALL SELECT 2)
      WHERE ${holders} > 1`);
  }
  try {
    await runAtomically(d1, statements);
    return true;
  } catch (error) {
    // Both guards fail the same way (the primary key); whether the expectation still holds says which.
    if (expect && /UNIQUE constraint failed: work_claims/i.test(String(error)) && !(await expectationHolds(d1, expect))) throw new StaleWrite();
    if (unique && /UNIQUE constraint failed: work_claims/i.test(String(error))) return false;
    throw error;
  }
}

/** The newest version among a user's memberships (their deletion must come after it to remove them). */
export async function userMembershipFloor(d1: D1Database, provider: string, userId: string): Promise<string | null> {
  const row = await d1
    .prepare("SELECT max(last_event_version) AS v FROM membership_versions WHERE provider = ? AND user_external_id = ?")
    .bind(provider, userId)
    .first<{ v: string | null }>();
  return row?.v ?? null;
}

/**
 * What a write was computed from, re-checked inside its batch: the record it read (still live, and
 * still at the version read: a DELETE or another write that committed in between aborts this one,
 * so a PATCH racing a DELETE cannot undelete, and a stale If-Match cannot win), and the users it
 * adds to a group (still live: a member add racing the member's DELETE grants nothing).
 */
export interface Expectation {
  record?: { table: "users" | "groups"; provider: string; externalId: string; version: string };
  liveUsers?: { provider: string; ids: string[] };
  /** A user's deletion: no membership of theirs newer than the one it read (it would survive the delete). */
  membershipsUpTo?: { provider: string; userId: string; version: string | null };
}

/** Thrown when a write's expectation no longer held inside its batch: nothing was written. */
export class StaleWrite extends Error {
  constructor() {
    super("the resource changed while the request was applied");
    this.name = "StaleWrite";
  }
}

const STALE_GUARD = "scim-stale-guard:";

function conditions(expect: Expectation): SQL[] {
  const holds: SQL[] = [];
  if (expect.record) {
    const { table, provider, externalId, version } = expect.record;
    holds.push(sql`EXISTS (SELECT 1 FROM ${sql.raw(table)} WHERE provider = ${provider} AND external_id = ${externalId} AND deleted_at IS NULL AND last_event_version = ${version})`);
  }
  if (expect.liveUsers && expect.liveUsers.ids.length) {
    const ids = [...new Set(expect.liveUsers.ids)];
    holds.push(sql`(SELECT count(*) FROM users WHERE provider = ${expect.liveUsers.provider} AND external_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
                    AND deleted_at IS NULL AND forgotten_at IS NULL) = ${ids.length}`);
  }
  if (expect.membershipsUpTo) {
    const { provider, userId, version } = expect.membershipsUpTo;
    holds.push(sql`NOT EXISTS (SELECT 1 FROM membership_versions WHERE provider = ${provider} AND user_external_id = ${userId} AND last_event_version > ${version ?? ""})`);
  }
  return holds;
}

/** Inserts the same work_claims key twice when an expectation fails, so the primary key aborts the batch. */
function staleGuards(eventId: string, now: number, expect?: Expectation): SQL[] {
  const holds = expect ? conditions(expect) : [];
  if (holds.length === 0) return [];
  return [
    sql`INSERT INTO work_claims (scope, key, claimed_at)
        SELECT 'scim', ${STALE_GUARD + eventId}, ${now} FROM (SELECT 1 UNION ALL SELECT 2)
        WHERE NOT (${sql.join(holds, sql` AND `)})`,
  ];
}

async function expectationHolds(d1: D1Database, expect: Expectation): Promise<boolean> {
  const holds = conditions(expect);
  if (holds.length === 0) return true;
  const row = await drizzle(d1).get<{ ok: number }>(sql`SELECT (${sql.join(holds, sql` AND `)}) AS ok`);
  return Boolean(row?.ok);
}
