import { sql, type SQL } from "drizzle-orm";
import type { DirectoryEvent, DirectoryInfo, DirectoryUser } from "../events";
import { versionOf } from "./version";
import { userFingerprint } from "./fingerprint";
import { foldCaseOrNull } from "./fold";

/**
 * The only code that writes users, groups, memberships (group_members, membership_versions,
 * membership_resets) and directories.
 *
 * Each kind of change is a fixed few set-based statements over a JSON array (`json_each`), so
 * applying a batch costs the same statements whether it holds 1 event or 100, and stays under D1's
 * 100-bound-parameter limit. Every write is guarded by the event version, so the result depends
 * on the set of events applied, never on the order they arrive in or how they are batched.
 */

type Rows = Record<string, unknown>[];

export function directoryWrites(events: DirectoryEvent[], now: number): SQL[] {
  const rows = {
    userUpserts: [] as Rows,
    userDeletes: [] as Rows,
    groupUpserts: [] as Rows,
    groupDeletes: [] as Rows,
    memberships: [] as Rows,
    userForgets: [] as Rows,
    groupSets: [] as Rows,
    groupStubs: [] as Rows,
    directories: [] as Rows,
  };
  for (const event of events) {
    const base = { provider: event.provider, occurredAt: event.occurredAt, version: versionOf(event) };
    switch (event.kind) {
      case "user_upserted":
        rows.userUpserts.push(userRow(base, event.user));
        if (event.groups) {
          const groupIds = event.groups.map((group) => group.externalId);
          rows.groupSets.push({ ...base, externalId: event.user.externalId, groups: groupIds });
          // The snapshot's own adds, one membership row per group, at the event's version.
          for (const groupId of groupIds) rows.memberships.push({ ...base, groupExternalId: groupId, added: [event.user.externalId], removed: [] });
          for (const group of event.groups) rows.groupStubs.push(groupStubRow(base, group, event.user.organizationId));
        }
        break;
      case "user_forgotten":
        rows.userForgets.push({ ...base, externalId: event.externalId });
        break;
      case "user_refresh":
        // Resolved into user_upserted / user_forgotten by the consumer before it gets here.
        throw new Error("user_refresh must be resolved against the upstream before it is applied");
      case "user_deleted":
        rows.userDeletes.push(userRow(base, { ...event.user, active: false }));
        break;
      case "group_upserted":
        rows.groupUpserts.push({ ...base, ...event.group, nameKey: foldCaseOrNull(event.group.name) });
        break;
      case "group_deleted":
        rows.groupDeletes.push({ ...base, ...event.group, nameKey: foldCaseOrNull(event.group.name) });
        break;
      case "directory_changed":
        rows.directories.push(directoryRow(base, event.directory));
        break;
      case "group_members_changed":
        rows.memberships.push({ ...base, groupExternalId: event.groupExternalId, added: event.added, removed: event.removed });
        break;
    }
  }

  const statements: SQL[] = [];
  if (rows.userUpserts.length) statements.push(...upsertUsers(rows.userUpserts, now));
  if (rows.userDeletes.length) statements.push(...deleteUsers(rows.userDeletes, now));
  if (rows.userForgets.length) statements.push(...forgetUsers(rows.userForgets, now));
  if (rows.groupUpserts.length) statements.push(upsertGroups(rows.groupUpserts, now));
  if (rows.groupStubs.length) statements.push(upsertGroups(rows.groupStubs, now));
  if (rows.groupDeletes.length) statements.push(...deleteGroups(rows.groupDeletes, now));
  // Before the adds: a user's group set first resets their memberships as of its version.
  if (rows.groupSets.length) statements.push(...resetMemberships("users", json(rows.groupSets), now));
  if (rows.memberships.length) statements.push(...changeMembers(rows.memberships, now));
  if (rows.directories.length) statements.push(upsertDirectories(rows.directories, now));
  return statements;
}

const json = (rows: unknown) => JSON.stringify(rows);

interface VersionedBase {
  provider: string;
  occurredAt: number;
  version: string;
}

/** A users row as the upsert statements read it from JSON. */
export function userRow(base: VersionedBase, user: DirectoryUser): Record<string, unknown> {
  return {
    ...base,
    ...user,
    providerRoles: user.providerRoles ?? null,
    // Only SCIM connections have one; every other provider's users keep profile NULL, as before it existed.
    profile: user.profile ?? null,
    active: user.active ? 1 : 0,
    fingerprint: userFingerprint(user),
    userNameKey: foldCaseOrNull(user.userName),
    emailKey: foldCaseOrNull(user.email),
    firstNameKey: foldCaseOrNull(user.firstName),
    lastNameKey: foldCaseOrNull(user.lastName),
  };
}

/**
 * Snapshot upsert, guarded by version. `onlyIfLive` (reconciliation) also refuses to touch a
 * forgotten user: a listing page read before the erasure must not bring the person back.
 *
 * Three statements, because D1 bills every index entry a statement writes, and SQLite rewrites an
 * index entry whenever its column is assigned, changed or not: new users are inserted; users whose
 * indexed keys (email, userName, organization, directory) change get the whole snapshot; every
 * other newer snapshot assigns only unindexed columns, one row written. Each user is updated by at
 * most one of them (the first moves the version on), so the change feed sees one change per user.
 * The rows are first reduced to the newest per user: an UPDATE … FROM applies one matching row.
 */
export function upsertUsers(rows: Rows, now: number, options: { onlyIfLive?: boolean; deleted?: boolean } = {}): SQL[] {
  const payload = json(newestPerUser(rows));
  const liveGuard = options.onlyIfLive ? sql` AND users.forgotten_at IS NULL` : sql``;
  // A soft delete is the same snapshot, marked deleted at the event's time.
  const deletedAt = options.deleted ? sql`r.value ->> 'occurredAt'` : sql`NULL`;
  const newer = sql`users.provider = r.value ->> 'provider' AND users.external_id = r.value ->> 'externalId'
      AND r.value ->> 'version' > users.last_event_version${liveGuard}`;
  const unindexed = sql`email = r.value ->> 'email', first_name = r.value ->> 'firstName', last_name = r.value ->> 'lastName',
      active = r.value ->> 'active', user_name = r.value ->> 'userName', scim_external_id = r.value ->> 'scimExternalId',
      attributes = r.value ->> 'attributes', provider_roles = r.value ->> 'providerRoles', profile = r.value ->> 'profile',
      fingerprint = r.value ->> 'fingerprint', first_name_key = r.value ->> 'firstNameKey', last_name_key = r.value ->> 'lastNameKey',
      deleted_at = ${deletedAt}, forgotten_at = NULL, updated_at = ${now},
      last_event_at = r.value ->> 'occurredAt', last_event_version = r.value ->> 'version'`;
  return [
    sql`
    INSERT INTO users (provider, external_id, email, first_name, last_name, active, organization_id, directory_id,
                       user_name, scim_external_id, attributes, provider_roles, profile, fingerprint, user_name_key, email_key,
                       first_name_key, last_name_key, created_at, updated_at, deleted_at, last_event_at, last_event_version)
    SELECT r.value ->> 'provider', r.value ->> 'externalId', r.value ->> 'email', r.value ->> 'firstName',
           r.value ->> 'lastName', r.value ->> 'active', r.value ->> 'organizationId', r.value ->> 'directoryId',
           r.value ->> 'userName', r.value ->> 'scimExternalId', r.value ->> 'attributes', r.value ->> 'providerRoles', r.value ->> 'profile', r.value ->> 'fingerprint',
           r.value ->> 'userNameKey', r.value ->> 'emailKey', r.value ->> 'firstNameKey', r.value ->> 'lastNameKey',
           ${now}, ${now}, ${deletedAt}, r.value ->> 'occurredAt', r.value ->> 'version'
    FROM json_each(${payload}) AS r WHERE true
    ON CONFLICT (provider, external_id) DO NOTHING`,
    sql`
    UPDATE users SET ${unindexed}, organization_id = r.value ->> 'organizationId', directory_id = r.value ->> 'directoryId',
      user_name_key = r.value ->> 'userNameKey', email_key = r.value ->> 'emailKey'
    FROM json_each(${payload}) AS r
    WHERE ${newer}
      AND (users.email_key IS NOT r.value ->> 'emailKey' OR users.user_name_key IS NOT r.value ->> 'userNameKey'
           OR users.organization_id IS NOT r.value ->> 'organizationId' OR users.directory_id IS NOT r.value ->> 'directoryId')`,
    sql`
    UPDATE users SET ${unindexed}
    FROM json_each(${payload}) AS r
    WHERE ${newer}`,
  ];
}

/** The newest row per user (versions compared as SQLite compares them: UTF-8 bytes). */
function newestPerUser(rows: Rows): Rows {
  const newest = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    const key = `${row.provider}\u0000${row.externalId}`;
    const held = newest.get(key);
    if (!held || compareUtf8(String(row.version), String(held.version)) > 0) newest.set(key, row);
  }
  return newest.size === rows.length ? rows : [...newest.values()];
}

const utf8 = new TextEncoder();
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * Erasure: personal data is removed, a tombstone row remains, and memberships are removed.
 *
 * Versioned like every other state, on the subject's one clock (for SCIM-backed providers, the
 * time the consumer observed the upstream): an erasure replaces every older state, and an older
 * event arriving later cannot restore the data. Only a state observed after the erasure (the
 * upstream has the user again) replaces it. That is what makes the result independent of arrival
 * order: an erasure that "always won" would wipe a re-provisioned user whenever a stale erasure
 * arrived late.
 */
export function forgetUsers(rows: Rows, now: number): SQL[] {
  const payload = json(rows);
  return [
    // Memberships first, while the user row still says which organization they belonged to: the
    // change feed files each removal under it (migrations/0007_change_feed.sql).
    ...resetMemberships("users", payload, now),
    // The change feed forgets too, even when this erasure is older than the user's current state
    // (a re-provisioning in the same batch): everything recorded up to the erasure is reduced to ids.
    // Recorded in change_erasures, which every reader of the feed redacts through (changes/erasure.ts).
    sql`
    INSERT INTO change_erasures (provider, subject, through_seq, through_occurred_at, recorded_at)
    SELECT r.value ->> 'provider', r.value ->> 'externalId', 0, max(r.value ->> 'occurredAt'), ${now}
    FROM json_each(${payload}) AS r WHERE true GROUP BY 1, 2
    ON CONFLICT (provider, subject) DO UPDATE SET
      through_occurred_at = max(coalesce(change_erasures.through_occurred_at, 0), excluded.through_occurred_at),
      recorded_at = excluded.recorded_at`,
    sql`
    INSERT INTO users (provider, external_id, active, created_at, updated_at, deleted_at, forgotten_at,
                       last_event_at, last_event_version)
    SELECT r.value ->> 'provider', r.value ->> 'externalId', 0, ${now}, ${now},
           r.value ->> 'occurredAt', r.value ->> 'occurredAt', r.value ->> 'occurredAt', r.value ->> 'version'
    FROM json_each(${payload}) AS r WHERE true
    ON CONFLICT (provider, external_id) DO UPDATE SET
      email = NULL, first_name = NULL, last_name = NULL, user_name = NULL, scim_external_id = NULL,
      attributes = NULL, provider_roles = NULL, profile = NULL, fingerprint = NULL, user_name_key = NULL, email_key = NULL,
      first_name_key = NULL, last_name_key = NULL, active = 0,
      -- The erasure carries no organization or directory, and a tombstone must not depend on
      -- which state it replaced (arrival order): it keeps only the id.
      organization_id = NULL, directory_id = NULL,
      deleted_at = excluded.deleted_at, forgotten_at = excluded.forgotten_at, updated_at = excluded.updated_at,
      last_event_at = excluded.last_event_at, last_event_version = excluded.last_event_version
    WHERE excluded.last_event_version > users.last_event_version`,
  ];
}

/**
 * Soft delete: a tombstone row (inserted if the user was never seen, so a late, older create
 * cannot bring them back), then the membership reset, then the removal of their memberships.
 * The tombstone is exactly the profile the delete event carries (Scalekit sends the whole user),
 * like any other snapshot: a field the event lacks is null, never "whatever was applied before",
 * so the result does not depend on arrival order.
 */
function deleteUsers(rows: Rows, now: number): SQL[] {
  return [...upsertUsers(rows, now, { deleted: true }), ...resetMemberships("users", json(rows), now)];
}

/**
 * A group a user event names (Scalekit `groups: [{ id, name }]`) exists with that name until the
 * group's own events say otherwise. Its version is the user event's behind a `!`, which sorts
 * before every digit: any real group event replaces it whatever the arrival order, and among
 * user events the newest name wins, so the result does not depend on arrival order either.
 */
const STUB_VERSION_PREFIX = "!";

function groupStubRow(base: VersionedBase, group: { externalId: string; name: string | null }, organizationId: string | null): Record<string, unknown> {
  return {
    ...base,
    version: `${STUB_VERSION_PREFIX}${base.version}`,
    externalId: group.externalId,
    name: group.name,
    nameKey: foldCaseOrNull(group.name),
    organizationId,
    directoryId: null,
  };
}

function upsertGroups(rows: Rows, now: number): SQL {
  return sql`
    INSERT INTO groups (provider, external_id, name, name_key, organization_id, directory_id, scim_external_id,
                        created_at, updated_at, deleted_at, last_event_at, last_event_version)
    SELECT r.value ->> 'provider', r.value ->> 'externalId', r.value ->> 'name', r.value ->> 'nameKey',
           r.value ->> 'organizationId', r.value ->> 'directoryId', r.value ->> 'scimExternalId',
           ${now}, ${now}, NULL, r.value ->> 'occurredAt', r.value ->> 'version'
    FROM json_each(${json(rows)}) AS r WHERE true
    ON CONFLICT (provider, external_id) DO UPDATE SET
      name = excluded.name, name_key = excluded.name_key, organization_id = excluded.organization_id, directory_id = excluded.directory_id,
      scim_external_id = excluded.scim_external_id, deleted_at = NULL, updated_at = excluded.updated_at,
      last_event_at = excluded.last_event_at, last_event_version = excluded.last_event_version
    WHERE excluded.last_event_version > groups.last_event_version`;
}

function deleteGroups(rows: Rows, now: number): SQL[] {
  const payload = json(rows);
  return [
    sql`
    INSERT INTO groups (provider, external_id, name, name_key, organization_id, directory_id, scim_external_id,
                        created_at, updated_at, deleted_at, last_event_at, last_event_version)
    SELECT r.value ->> 'provider', r.value ->> 'externalId', r.value ->> 'name', r.value ->> 'nameKey',
           r.value ->> 'organizationId', r.value ->> 'directoryId', r.value ->> 'scimExternalId',
           ${now}, ${now}, r.value ->> 'occurredAt', r.value ->> 'occurredAt', r.value ->> 'version'
    FROM json_each(${payload}) AS r WHERE true
    ON CONFLICT (provider, external_id) DO UPDATE SET
      -- The tombstone is exactly what the delete carries, like any snapshot: falling back to the
      -- stored name would make it depend on which (possibly stub) state arrived before the delete.
      name = excluded.name, name_key = excluded.name_key,
      organization_id = excluded.organization_id, directory_id = excluded.directory_id, scim_external_id = excluded.scim_external_id,
      deleted_at = excluded.deleted_at, updated_at = excluded.updated_at,
      last_event_at = excluded.last_event_at, last_event_version = excluded.last_event_version
    WHERE excluded.last_event_version > groups.last_event_version`,
    ...resetMemberships("groups", payload, now),
  ];
}

/**
 * After deleting users or groups, or a user event setting the user's groups: record the event's
 * version as their membership reset (never moving it backwards), and remove every membership
 * older than it. Not guarded by the record's last_event_version: a delete older than its current
 * state (say, a re-create) still removes the memberships that were older than the delete.
 *
 * A group set (rows with `groups`) keeps the pairs it lists: it re-adds them at its own version
 * (changeMembers), and leaving them in place means a set that changes nothing moves no
 * lastModified.
 */
function resetMemberships(table: "users" | "groups", payload: string, now: number): SQL[] {
  const subject = table === "users" ? "user" : "group";
  const memberColumn = sql.raw(table === "users" ? "user_external_id" : "group_external_id");
  const deletes = sql`
    (SELECT r.value ->> 'provider' AS provider, r.value ->> 'externalId' AS external_id,
            max(r.value ->> 'version') AS version, max(r.value ->> 'occurredAt') AS occurred_at
     FROM json_each(${payload}) AS r GROUP BY 1, 2) AS d`;
  // The pairs this can remove: the subjects' current members (only those can change).
  const currentPairs = sql`
    SELECT gm.provider, gm.group_external_id, gm.user_external_id
    FROM json_each(${payload}) AS r
    JOIN group_members AS gm ON gm.provider = r.value ->> 'provider' AND gm.${memberColumn} = r.value ->> 'externalId'`;
  return [
    sql`
    INSERT INTO membership_resets (provider, subject, external_id, version)
    SELECT d.provider, ${subject}, d.external_id, d.version FROM ${deletes} WHERE true
    ON CONFLICT (provider, subject, external_id) DO UPDATE SET version = excluded.version
    WHERE excluded.version > membership_resets.version`,
    sql`
    UPDATE membership_versions SET removed_at = d.occurred_at FROM ${deletes}
    WHERE membership_versions.provider = d.provider AND membership_versions.${memberColumn} = d.external_id
      AND membership_versions.removed_at IS NULL AND membership_versions.last_event_version < d.version
      AND NOT EXISTS (${keptGroups(payload)})`,
    ...projectMembers(currentPairs, now, { adds: false }),
  ];
}

/** The groups the subject's newest row in `payload` lists (none for deletes), as a correlated subquery on `d`. */
const keptGroups = (payload: string) => sql`
  SELECT 1 FROM json_each(${payload}) AS k, json_each(k.value, '$.groups') AS kg
  WHERE k.value ->> 'provider' = d.provider AND k.value ->> 'externalId' = d.external_id AND k.value ->> 'version' = d.version
    AND kg.value = membership_versions.group_external_id`;

/**
 * Membership events: record each pair's latest event in membership_versions, then bring
 * group_members in line with it for the pairs the events name.
 */
function changeMembers(rows: Rows, now: number): SQL[] {
  const payload = json(rows);
  const namedPairs = sql`
    SELECT e.value ->> 'provider' AS provider, e.value ->> 'groupExternalId' AS group_external_id, m.value AS user_external_id
    FROM json_each(${payload}) AS e, json_each(e.value, '$.added') AS m
    UNION
    SELECT e.value ->> 'provider', e.value ->> 'groupExternalId', m.value
    FROM json_each(${payload}) AS e, json_each(e.value, '$.removed') AS m`;
  return [addMembers(payload), removeMembers(payload), ...projectMembers(namedPairs, now, { adds: true })];
}

/** A subject's latest membership reset version, or '' (older than any version). */
const resetVersion = (subject: "user" | "group", provider: SQL, externalId: SQL) => sql`
  coalesce((SELECT mr.version FROM membership_resets AS mr
            WHERE mr.provider = ${provider} AND mr.subject = ${subject} AND mr.external_id = ${externalId}), '')`;

/**
 * Pairs are last-writer-wins by version. An add only makes a member if it is newer than the
 * latest delete of both the user and the group (membership_resets); otherwise it is recorded as
 * removed, exactly as if the delete had come after it. The user's reset may equal the add's
 * version: that is a user event's group set re-adding its own groups (versions name one event,
 * and a processed event id is never applied twice, so no other event shares it).
 */
function addMembers(payload: string): SQL {
  const provider = sql`e.value ->> 'provider'`;
  return sql`
    INSERT INTO membership_versions (provider, group_external_id, user_external_id, added_at, removed_at, last_event_version)
    SELECT e.value ->> 'provider', e.value ->> 'groupExternalId', m.value, e.value ->> 'occurredAt',
           CASE WHEN e.value ->> 'version' >= ${resetVersion("user", provider, sql`m.value`)}
                 AND e.value ->> 'version' > ${resetVersion("group", provider, sql`e.value ->> 'groupExternalId'`)}
                THEN NULL ELSE e.value ->> 'occurredAt' END,
           e.value ->> 'version'
    FROM json_each(${payload}) AS e, json_each(e.value, '$.added') AS m WHERE true
    ON CONFLICT (provider, group_external_id, user_external_id) DO UPDATE SET
      added_at = excluded.added_at, removed_at = excluded.removed_at, last_event_version = excluded.last_event_version
    WHERE excluded.last_event_version > membership_versions.last_event_version`;
}

function removeMembers(payload: string): SQL {
  return sql`
    INSERT INTO membership_versions (provider, group_external_id, user_external_id, added_at, removed_at, last_event_version)
    SELECT e.value ->> 'provider', e.value ->> 'groupExternalId', m.value, NULL, e.value ->> 'occurredAt', e.value ->> 'version'
    FROM json_each(${payload}) AS e, json_each(e.value, '$.removed') AS m WHERE true
    ON CONFLICT (provider, group_external_id, user_external_id) DO UPDATE SET
      removed_at = excluded.removed_at, last_event_version = excluded.last_event_version
    WHERE excluded.last_event_version > membership_versions.last_event_version`;
}

/**
 * Makes group_members match membership_versions for `pairs` (a SELECT of provider,
 * group_external_id, user_external_id), in the same batch as the version writes:
 * 1. groups whose membership really changes get `updated_at = now`, so a SCIM client polling
 *    `meta.lastModified gt …` sees it (stale or no-op events change nothing, so move nothing);
 * 2. pairs now removed leave group_members;
 * 3. pairs now current are (re)written with their add time (skipped when only removals can occur).
 */
function projectMembers(pairs: SQL, now: number, options: { adds: boolean }): SQL[] {
  const versions = sql`
    (${pairs}) AS p
    JOIN membership_versions AS v ON v.provider = p.provider AND v.group_external_id = p.group_external_id
                                 AND v.user_external_id = p.user_external_id`;
  const isMember = sql`EXISTS (SELECT 1 FROM group_members AS gm WHERE gm.provider = v.provider
                       AND gm.group_external_id = v.group_external_id AND gm.user_external_id = v.user_external_id)`;
  const statements = [
    sql`
    UPDATE groups SET updated_at = ${now}
    WHERE (provider, external_id) IN (
      SELECT v.provider, v.group_external_id FROM ${versions} WHERE (v.removed_at IS NULL) <> ${isMember})`,
    // The user's side too: SCIM Users carry `groups` and /v1 users carry roles from them, so a
    // client polling meta.lastModified (or updated_since) must see a membership change there as well.
    sql`
    UPDATE users SET updated_at = ${now}
    WHERE (provider, external_id) IN (
      SELECT v.provider, v.user_external_id FROM ${versions} WHERE (v.removed_at IS NULL) <> ${isMember})`,
    sql`
    DELETE FROM group_members
    WHERE (provider, group_external_id, user_external_id) IN (
      SELECT v.provider, v.group_external_id, v.user_external_id FROM ${versions} WHERE v.removed_at IS NOT NULL)`,
  ];
  if (options.adds) {
    statements.push(sql`
    INSERT INTO group_members (provider, group_external_id, user_external_id, added_at)
    SELECT v.provider, v.group_external_id, v.user_external_id, v.added_at FROM ${versions} WHERE v.removed_at IS NULL
    ON CONFLICT (provider, group_external_id, user_external_id) DO UPDATE SET added_at = excluded.added_at
    WHERE group_members.added_at IS NOT excluded.added_at`);
  }
  return statements;
}

/** A directories row as upsertDirectories reads it from JSON. */
export function directoryRow(base: VersionedBase, directory: DirectoryInfo): Record<string, unknown> {
  return { ...base, ...directory, enabled: directory.enabled === null ? null : directory.enabled ? 1 : 0 };
}

/**
 * Directory snapshots (an enable/disable event, or a Directory API listing versioned by when it
 * was read), guarded by version like users and groups: the newest snapshot wins whatever the
 * arrival order, so enabled → disabled → enabled converges. Nothing else changes: a disabled
 * directory's users stay as they are (README, "Directories").
 */
export function upsertDirectories(rows: Rows, now: number): SQL {
  return sql`
    INSERT INTO directories (provider, id, organization_id, directory_type, idp_provider, enabled, status,
                             last_event_at, last_event_version, created_at, updated_at)
    SELECT r.value ->> 'provider', r.value ->> 'id', r.value ->> 'organizationId', r.value ->> 'directoryType',
           r.value ->> 'idpProvider', r.value ->> 'enabled', r.value ->> 'status',
           r.value ->> 'occurredAt', r.value ->> 'version', ${now}, ${now}
    FROM json_each(${json(rows)}) AS r WHERE true
    ON CONFLICT (provider, id) DO UPDATE SET
      organization_id = excluded.organization_id, directory_type = excluded.directory_type,
      idp_provider = excluded.idp_provider, enabled = excluded.enabled, status = excluded.status,
      last_event_at = excluded.last_event_at, last_event_version = excluded.last_event_version, updated_at = excluded.updated_at
    WHERE excluded.last_event_version > directories.last_event_version`;
}
