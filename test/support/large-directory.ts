import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { foldCaseOrNull } from "../../src/directory/fold";
import { deadLetters, eventLog, eventStatuses, groupMembers, groups, membershipResets, membershipVersions, reconcileRuns, users } from "../../src/directory/schema";
import { eventVersion } from "../../src/directory/version";

/**
 * A directory large enough to break anything whose bound parameters, round trips or memory grow
 * with a page: 1,200 users (two organizations, one of them non-ASCII; some inactive, deleted or
 * forgotten; non-ASCII ids and names), 300 groups (10 deleted), exactly 10,000 current
 * memberships (and about 500 former ones, kept only as ordering tombstones), one group of 480
 * members, one user in 165 groups, and enough event log rows, dead letters and reconciliation
 * runs for several admin pages each.
 *
 * Rows are written straight into the tables, a few set-based `INSERT … SELECT FROM json_each(?)`
 * statements in one D1 batch (about a second), not replayed as events: the subject of the
 * tests using it is the read side. The rows are what the writes would leave (erased and deleted
 * users hold no memberships, erased ones keep only their id), and the manifest returned says
 * what each reader should see.
 */

export const LARGE_PROVIDER = "scalekit";
/** Users of the second provider have no memberships: pages cross a provider boundary. */
export const OTHER_PROVIDER = "firstup";
export const ORG_NORD = "org_nord";
export const ORG_SUD = "org_süd";

const USER_COUNT = 1_200;
const OTHER_PROVIDER_USERS = 50;
const GROUP_COUNT = 300;
const DELETED_GROUPS = 10;
export const MEMBERSHIP_COUNT = 10_000;
const EVENT_COUNT = 1_000;
const DEAD_LETTER_COUNT = 450;
const RUN_COUNT = 150;

const T0 = Date.parse("2026-05-01T00:00:00Z");
const NAMES = ["Zoë", "Łukasz", "渡辺", "Søren", "Ἀθηνᾶ", "Ñandú"];
/** Rows per INSERT statement: one JSON parameter each, kept to a few hundred KB. */
const ROWS_PER_STATEMENT = 2_000;

export interface SeededUser {
  provider: string;
  externalId: string;
  organizationId: string | null;
  deleted: boolean;
  forgotten: boolean;
}

export interface SeededGroup {
  provider: string;
  externalId: string;
  name: string;
  organizationId: string;
  deleted: boolean;
}

export interface SeededMembership {
  provider: string;
  groupExternalId: string;
  userExternalId: string;
}

export interface LargeDirectory {
  users: SeededUser[];
  groups: SeededGroup[];
  memberships: SeededMembership[];
  /** An org_nord group with 450 org_nord members and 30 org_süd ones. */
  bigGroup: string;
  /** An org_süd user (non-ASCII id) in every live org_süd group and 20 org_nord groups. */
  busyUser: string;
  /** Event log keys, as `provider\0eventId`. */
  events: string[];
  deadLetters: string[];
  /** Run ids, newest first. */
  runs: string[];
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

function userId(i: number): string {
  if (i % 50 === 11) return `u${pad(i, 4)}-用户-😀`;
  if (i % 7 === 3) return `u${pad(i, 4)}-ñandú`;
  return `u${pad(i, 4)}`;
}

function buildUsers(): { seeded: SeededUser[]; rows: (typeof users.$inferInsert)[] } {
  const seeded: SeededUser[] = [];
  const rows: (typeof users.$inferInsert)[] = [];
  for (let i = 0; i < USER_COUNT; i++) {
    const provider = i < USER_COUNT - OTHER_PROVIDER_USERS ? LARGE_PROVIDER : OTHER_PROVIDER;
    const externalId = userId(i);
    const forgotten = i % 29 === 5;
    const deleted = !forgotten && i % 17 === 4;
    const organizationId = forgotten ? null : i % 2 === 0 ? ORG_NORD : ORG_SUD;
    const at = T0 + i;
    const version = eventVersion(at, `seed-${i}`);
    seeded.push({ provider, externalId, organizationId, deleted, forgotten });
    const email = forgotten ? null : i % 9 === 2 ? `Ü${i}@Exämple.org` : `user${i}@example.com`;
    const firstName = forgotten ? null : i % 5 === 0 ? NAMES[(i / 5) % NAMES.length]! : `First${i}`;
    const lastName = forgotten ? null : i % 3 === 0 ? "Müller" : `Last${i}`;
    rows.push({
      provider,
      externalId,
      email,
      firstName,
      lastName,
      active: !forgotten && !deleted && i % 13 !== 6,
      organizationId,
      directoryId: organizationId === null ? null : `dir_${organizationId}`,
      createdAt: at,
      updatedAt: at,
      deletedAt: deleted || forgotten ? at : null,
      lastEventAt: at,
      lastEventVersion: version,
      userName: email,
      scimExternalId: forgotten ? null : `scim-${i}`,
      attributes: forgotten || i % 4 !== 1 ? null : { department: i % 8 === 1 ? "R&D" : "Vertrieb" },
      fingerprint: null,
      forgottenAt: forgotten ? at : null,
      userNameKey: foldCaseOrNull(email),
      emailKey: foldCaseOrNull(email),
      firstNameKey: foldCaseOrNull(firstName),
      lastNameKey: foldCaseOrNull(lastName),
    });
  }
  return { seeded, rows };
}

function buildGroups(): { seeded: SeededGroup[]; rows: (typeof groups.$inferInsert)[] } {
  const seeded: SeededGroup[] = [];
  const rows: (typeof groups.$inferInsert)[] = [];
  for (let j = 0; j < GROUP_COUNT; j++) {
    const externalId = j % 10 === 7 ? `g${pad(j, 3)}-équipe` : `g${pad(j, 3)}`;
    const name = j % 10 === 7 ? `Équipe ${j}` : `Group ${j}`;
    const organizationId = j % 2 === 0 ? ORG_NORD : ORG_SUD;
    const deleted = j >= GROUP_COUNT - DELETED_GROUPS;
    const at = T0 + j;
    seeded.push({ provider: LARGE_PROVIDER, externalId, name, organizationId, deleted });
    rows.push({
      provider: LARGE_PROVIDER,
      externalId,
      name,
      nameKey: foldCaseOrNull(name),
      organizationId,
      directoryId: `dir_${organizationId}`,
      createdAt: at,
      updatedAt: at,
      deletedAt: deleted ? at : null,
      lastEventAt: at,
      lastEventVersion: eventVersion(at, `seed-g${j}`),
    });
  }
  return { seeded, rows };
}

/**
 * Exactly MEMBERSHIP_COUNT current memberships between live users and live groups of the first
 * provider: the big group, the busy user, then every live user in more groups of its own
 * organization, round-robin, until the count is reached.
 */
function buildMemberships(seededUsers: SeededUser[], seededGroups: SeededGroup[]) {
  const live = seededUsers.filter((u) => u.provider === LARGE_PROVIDER && !u.deleted && !u.forgotten);
  const liveGroups = seededGroups.filter((g) => !g.deleted);
  const groupsOf = (org: string) => liveGroups.filter((g) => g.organizationId === org);
  const bigGroup = groupsOf(ORG_NORD)[0]!.externalId;
  const busyUser = live.find((u) => u.organizationId === ORG_SUD && /[^\x00-\x7f]/.test(u.externalId))!.externalId;

  const pairs = new Map<string, SeededMembership>();
  const add = (groupExternalId: string, userExternalId: string) => {
    if (pairs.size < MEMBERSHIP_COUNT) pairs.set(`${groupExternalId}\u0000${userExternalId}`, { provider: LARGE_PROVIDER, groupExternalId, userExternalId });
  };
  for (const u of live.filter((u) => u.organizationId === ORG_NORD).slice(0, 450)) add(bigGroup, u.externalId);
  for (const u of live.filter((u) => u.organizationId === ORG_SUD).slice(0, 30)) add(bigGroup, u.externalId);
  for (const g of groupsOf(ORG_SUD)) add(g.externalId, busyUser);
  for (const g of groupsOf(ORG_NORD).slice(1, 21)) add(g.externalId, busyUser);
  const others = live.filter((u) => u.externalId !== busyUser);
  for (let round = 0; pairs.size < MEMBERSHIP_COUNT; round++) {
    others.forEach((u, m) => {
      const own = groupsOf(u.organizationId!).slice(1);
      add(own[(m * 7 + round * 13) % own.length]!.externalId, u.externalId);
    });
  }
  // Pairs that were members once and are not now, which no reader may show: deleted and erased
  // users' former groups, and 400 org_süd users who left the big group.
  const removed: SeededMembership[] = [
    ...seededUsers.filter((u) => u.provider === LARGE_PROVIDER && (u.deleted || u.forgotten)).map((u) => ({ provider: LARGE_PROVIDER, groupExternalId: groupsOf(u.organizationId ?? ORG_SUD)[1]!.externalId, userExternalId: u.externalId })),
    ...live.filter((u) => u.organizationId === ORG_SUD).slice(30, 430).map((u) => ({ provider: LARGE_PROVIDER, groupExternalId: bigGroup, userExternalId: u.externalId })),
  ];
  return { memberships: [...pairs.values()], removed, bigGroup, busyUser };
}

/**
 * The one place memberships are written, as directory/writes.ts leaves them: group_members holds
 * the current memberships; membership_versions the ordering state of every pair ever seen (the
 * current ones, and `removed` pairs, tombstones only); membership_resets the version of each
 * delete or erasure. Adapt here (and only here) when membership bookkeeping changes tables.
 */
function membershipStatements(db: D1Database, memberships: SeededMembership[], removed: SeededMembership[], resets: (typeof membershipResets.$inferInsert)[]): D1PreparedStatement[] {
  const version = (k: number) => eventVersion(T0 + k, `seed-m${k}`);
  return [
    ...insertStatements(db, groupMembers, memberships.map((m, k) => ({ ...m, addedAt: T0 + k }))),
    ...insertStatements(db, membershipVersions, [
      ...memberships.map((m, k) => ({ ...m, addedAt: T0 + k, removedAt: null, lastEventVersion: version(k) })),
      ...removed.map((m, k) => ({ ...m, addedAt: null, removedAt: T0 + k, lastEventVersion: version(MEMBERSHIP_COUNT + k) })),
    ]),
    ...insertStatements(db, membershipResets, resets),
  ];
}

function operatorRows() {
  const events: (typeof eventLog.$inferInsert)[] = [];
  for (let i = 0; i < EVENT_COUNT; i++) {
    const status = eventStatuses[i % eventStatuses.length]!;
    // Three events per millisecond: pages must break ties on (provider, event_id), never lose one.
    const receivedAt = T0 + Math.floor(i / 3);
    events.push({
      provider: i % 2 === 0 ? LARGE_PROVIDER : OTHER_PROVIDER,
      eventId: i % 11 === 4 ? `evt_${pad(i, 4)}_é` : `evt_${pad(i, 4)}`,
      sourceType: "organization.directory.user_updated",
      status,
      reason: status === "ignored" ? "unsupported_event_type" : null,
      error: status === "failed" || status === "dead_lettered" ? "Error: upstream unavailable" : null,
      attempts: status === "quarantined" || status === "rejected" ? 0 : 1 + (i % 3),
      occurredAt: receivedAt - 50,
      receivedAt,
      updatedAt: receivedAt,
      message: status === "failed" || status === "dead_lettered" || status === "held" ? JSON.stringify({ stored: i }) : null,
      subject: userId(i % USER_COUNT),
      delivery: status === "quarantined" || status === "rejected" ? JSON.stringify({ body: "{}", encoding: "utf-8", webhookId: null, signedAtMs: null, headers: {} }) : null,
      absentSince: null,
    });
  }
  const letters: (typeof deadLetters.$inferInsert)[] = [];
  for (let i = 0; i < DEAD_LETTER_COUNT; i++) {
    letters.push({
      messageId: `msg_${pad(i, 4)}`,
      provider: LARGE_PROVIDER,
      eventId: `evt_dl_${i}`,
      subject: userId(i),
      body: i % 10 === 0 ? "not json" : JSON.stringify({ kind: "event", n: i }),
      // Four per millisecond, for the same reason as above.
      recordedAt: T0 + Math.floor(i / 4),
    });
  }
  const runs: (typeof reconcileRuns.$inferInsert)[] = [];
  for (let i = 0; i < RUN_COUNT; i++) {
    const startedAt = T0 + i * 60_000;
    const newest = i === RUN_COUNT - 1;
    runs.push({
      id: `run_${pad(i, 4)}`,
      provider: OTHER_PROVIDER,
      // At most one running run per (provider, scope): the newest.
      status: newest ? "running" : i % 10 === 3 ? "guard_tripped" : i % 10 === 7 ? "failed" : "completed",
      phase: newest ? "scan" : "done",
      trigger: i % 2 === 0 ? "scheduled" : "manual",
      scope: "",
      startedAt,
      updatedAt: startedAt + 1_000,
      finishedAt: newest ? null : startedAt + 1_000,
      nextStartIndex: 1,
      sweepAfter: "",
      upstreamTotal: 1_000,
      pages: 10,
      scanned: 1_000,
      created: 0,
      updated: i,
      deactivated: 0,
      forgotten: 0,
      unchanged: 1_000 - i,
      errors: 0,
      lastError: null,
      note: null,
    });
  }
  return { events, letters, runs };
}

/** Empties the tables this seed writes and fills them: a handful of statements in one batch. */
export async function seedLargeDirectory(db: D1Database): Promise<LargeDirectory> {
  const builtUsers = buildUsers();
  const builtGroups = buildGroups();
  const { memberships, removed, bigGroup, busyUser } = buildMemberships(builtUsers.seeded, builtGroups.seeded);
  // Every delete and erasure reset its subject's memberships at its own version.
  const resets = [
    ...builtUsers.rows.filter((row) => row.deletedAt !== null).map((row) => ({ provider: row.provider, subject: "user" as const, externalId: row.externalId, version: row.lastEventVersion })),
    ...builtGroups.rows.filter((row) => row.deletedAt !== null).map((row) => ({ provider: row.provider, subject: "group" as const, externalId: row.externalId, version: row.lastEventVersion })),
  ];
  const operator = operatorRows();
  const tables = [users, groups, groupMembers, membershipVersions, membershipResets, eventLog, deadLetters, reconcileRuns];
  await db.batch([
    ...tables.map((table) => db.prepare(`DELETE FROM "${getTableName(table)}"`)),
    ...insertStatements(db, users, builtUsers.rows),
    ...insertStatements(db, groups, builtGroups.rows),
    ...membershipStatements(db, memberships, removed, resets),
    ...insertStatements(db, eventLog, operator.events),
    ...insertStatements(db, deadLetters, operator.letters),
    ...insertStatements(db, reconcileRuns, operator.runs),
  ]);
  return {
    users: builtUsers.seeded,
    groups: builtGroups.seeded,
    memberships,
    bigGroup,
    busyUser,
    events: operator.events.map((row) => `${row.provider}\u0000${row.eventId}`),
    deadLetters: operator.letters.map((row) => row.messageId),
    runs: operator.runs.map((row) => row.id).reverse(),
  };
}

/**
 * `INSERT INTO <table> (<columns>) SELECT r.value ->> '<key>', … FROM json_each(?)`: rows typed by
 * the drizzle schema (a renamed or dropped column fails to type-check), one bound parameter per
 * statement. JSON objects (json-mode columns) are stored as their JSON text, booleans as 1/0.
 */
function insertStatements<T extends SQLiteTable>(db: D1Database, table: T, rows: T["$inferInsert"][]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
  const names = keys.map((key) => `"${columns[key]!.name}"`).join(", ");
  const values = keys.map((key) => `r.value ->> '$.${key}'`).join(", ");
  const sql = `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${values} FROM json_each(?) AS r`;
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    statements.push(db.prepare(sql).bind(JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT))));
  }
  return statements;
}
