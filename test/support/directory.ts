import type { DirectoryEvent } from "../../src/events";
import { QUEUE_MESSAGE_VERSION, type EventMessage } from "../../src/queue-message";

/**
 * The observable directory: what the application would read. Bookkeeping columns
 * (created_at, updated_at, versions, tombstone timestamps) are left out on purpose.
 */
export async function directorySnapshot(db: D1Database, provider = "scalekit") {
  const users = await db
    .prepare(
      `SELECT external_id, email, first_name, last_name, active, organization_id, deleted_at IS NOT NULL AS deleted, deleted_at
       FROM users WHERE provider = ? ORDER BY external_id`,
    )
    .bind(provider)
    .all();
  const groups = await db
    .prepare(`SELECT external_id, name, organization_id, deleted_at IS NOT NULL AS deleted FROM groups WHERE provider = ? ORDER BY external_id`)
    .bind(provider)
    .all();
  const members = await db
    .prepare(
      `SELECT group_external_id, user_external_id FROM group_members
       WHERE provider = ? ORDER BY group_external_id, user_external_id`,
    )
    .bind(provider)
    .all();
  return { users: users.results, groups: groups.results, members: members.results };
}

/**
 * Everything stored about a provider's directory except when this service wrote it (created_at,
 * updated_at) and the provider column itself (runs compare two providers): every profile field,
 * the case-folded keys, versions, tombstones and reset versions, and the current members with
 * when they were added. Convergence tests compare this, so no field can drift unnoticed.
 *
 * Membership bookkeeping: every pair's version and whether it is a member (a removed pair's
 * removed_at and added_at depend on arrival order by design, so they are left out), and the
 * users' and groups' reset versions.
 */
export async function fullDirectorySnapshot(db: D1Database, provider: string) {
  const strip = (rows: Record<string, unknown>[]) =>
    rows.map(({ provider: _provider, created_at: _created, updated_at: _updated, ...rest }) => rest);
  const users = await db.prepare("SELECT * FROM users WHERE provider = ? ORDER BY external_id").bind(provider).all();
  const groups = await db.prepare("SELECT * FROM groups WHERE provider = ? ORDER BY external_id").bind(provider).all();
  const members = await db
    .prepare(
      `SELECT gm.group_external_id, gm.user_external_id, gm.added_at, v.last_event_version FROM group_members AS gm
       LEFT JOIN membership_versions AS v ON v.provider = gm.provider AND v.group_external_id = gm.group_external_id
                                          AND v.user_external_id = gm.user_external_id
       WHERE gm.provider = ? ORDER BY gm.group_external_id, gm.user_external_id`,
    )
    .bind(provider)
    .all();
  const pairs = await db
    .prepare(
      `SELECT group_external_id, user_external_id, last_event_version, removed_at IS NULL AS member FROM membership_versions
       WHERE provider = ? ORDER BY group_external_id, user_external_id`,
    )
    .bind(provider)
    .all();
  const resets = await db
    .prepare("SELECT subject, external_id, version FROM membership_resets WHERE provider = ? ORDER BY subject, external_id")
    .bind(provider)
    .all();
  return { users: strip(users.results), groups: strip(groups.results), members: members.results, pairs: pairs.results, resets: resets.results };
}

export function eventMessage(event: DirectoryEvent, receivedAt = Date.now()): EventMessage {
  return { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt, event };
}

let sequence = 0;

const profile = (externalId: string) => ({
  externalId,
  email: `${externalId}@example.com`,
  lastName: "Last",
  organizationId: "org_1",
  directoryId: "dir_1",
  userName: null,
  scimExternalId: null,
  attributes: null,
});
const base = { provider: "scalekit", sourceType: "test" };

/** Neutral events for consumer tests; ids are unique unless given. */
export const events = {
  userUpserted: (externalId: string, occurredAt: number, fields: Partial<{ email: string | null; firstName: string | null; active: boolean }> = {}, eventId = `evt_${sequence++}`): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    kind: "user_upserted",
    user: { ...profile(externalId), firstName: "First", active: true, ...fields },
  }),
  userDeleted: (externalId: string, occurredAt: number, eventId = `evt_${sequence++}`): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    kind: "user_deleted",
    // Scalekit's delete carries the whole user, as in its provisioning guide's sample.
    user: { ...profile(externalId), firstName: "Gone" },
  }),
  groupUpserted: (externalId: string, occurredAt: number, name = "Group", eventId = `evt_${sequence++}`): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    kind: "group_upserted",
    group: { externalId, name, organizationId: "org_1", directoryId: "dir_1" },
  }),
  groupDeleted: (externalId: string, occurredAt: number, name = "Deleted group", eventId = `evt_${sequence++}`): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    kind: "group_deleted",
    group: { externalId, name, organizationId: "org_1", directoryId: "dir_1" },
  }),
  /** A user event carrying the user's full set of groups (Scalekit's `groups`), names from `name:<id>`. */
  userWithGroups: (externalId: string, occurredAt: number, groups: string[], eventId = `evt_${sequence++}`, occurredAtNanos?: number): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    ...(occurredAtNanos !== undefined ? { occurredAtNanos } : {}),
    kind: "user_upserted",
    user: { ...profile(externalId), firstName: "First", active: true },
    groups: groups.map((group) => ({ externalId: group, name: `name:${group}` })),
  }),
  members: (groupExternalId: string, occurredAt: number, added: string[], removed: string[] = [], eventId = `evt_${sequence++}`): DirectoryEvent => ({
    ...base,
    eventId,
    occurredAt,
    kind: "group_members_changed",
    groupExternalId,
    added,
    removed,
  }),
};

/** 100 events: 40 users, 10 groups, memberships, updates and deletes, in one batch. */
export function mixedBatch(prefix: string): DirectoryEvent[] {
  const list: DirectoryEvent[] = [];
  for (let i = 0; i < 40; i++) list.push(events.userUpserted(`${prefix}u${i}`, 1000 + i));
  for (let g = 0; g < 10; g++) list.push(events.groupUpserted(`${prefix}g${g}`, 1000 + g, `Group ${g}`));
  for (let g = 0; g < 10; g++) list.push(events.members(`${prefix}g${g}`, 2000 + g, [`${prefix}u${g}`, `${prefix}u${g + 10}`, `${prefix}u${g + 20}`]));
  for (let i = 0; i < 20; i++) list.push(events.userUpserted(`${prefix}u${i}`, 3000 + i, { firstName: "Renamed" }));
  for (let i = 30; i < 40; i++) list.push(events.userDeleted(`${prefix}u${i}`, 4000 + i));
  for (let g = 0; g < 5; g++) list.push(events.members(`${prefix}g${g}`, 5000 + g, [], [`${prefix}u${g}`]));
  for (let g = 8; g < 10; g++) list.push(events.groupDeleted(`${prefix}g${g}`, 6000 + g));
  for (let i = 0; i < 3; i++) list.push(events.groupUpserted(`${prefix}g${i}`, 7000 + i, `Renamed ${i}`));
  return list;
}
