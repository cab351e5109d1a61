import { and, asc, eq, gt, isNull, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { foldCase } from "./fold";
import { groupMembers, groups, users } from "./schema";

/**
 * Reads of the synced directory, for the JSON API and the SCIM server. Pages are keyset-ordered
 * by (provider, external_id), the primary key, so they stay stable while rows change.
 *
 * Every read takes the caller's ReadScope: an organization-scoped caller sees only rows of that
 * organization (users, groups, the groups shown on a user, the members shown on a group), and a row
 * of another organization, or of none, reads exactly like a missing one.
 *
 * Lists of keys (a page's users or groups) are bound as ONE JSON parameter read with json_each, as
 * the write side does: D1 allows 100 bound parameters per statement, and a page holds up to 200.
 */

/** Which organization the caller may read; null: every organization. */
export interface ReadScope {
  organizationId: string | null;
}

export const UNSCOPED: ReadScope = { organizationId: null };

/** The scope as a condition on a row's organization_id (undefined when unscoped). */
function inScope(column: SQLWrapper, scope: ReadScope): SQL | undefined {
  return scope.organizationId === null ? undefined : sql`${column} = ${scope.organizationId}`;
}

/** `(provider, id) IN` the given keys, as one bound JSON parameter. */
function keyIn(provider: SQLWrapper, externalId: SQLWrapper, keys: Cursor[]): SQL {
  const json = JSON.stringify(keys.map((key) => [key.provider, key.externalId]));
  return sql`(${provider}, ${externalId}) IN (SELECT k.value ->> 0, k.value ->> 1 FROM json_each(${json}) AS k)`;
}

export type UserRow = typeof users.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;

/** A position in (provider, external_id) order. */
export interface Cursor {
  provider: string;
  externalId: string;
}

export interface UserFilters {
  provider?: string;
  active?: boolean;
  email?: string;
  organizationId?: string;
  updatedSince?: number;
}

export async function listUsers(d1: D1Database, filters: UserFilters, page: { after: Cursor | null; limit: number }, scope: ReadScope): Promise<UserRow[]> {
  const conditions: (SQL | undefined)[] = [
    inScope(users.organizationId, scope),
    filters.provider === undefined ? undefined : eq(users.provider, filters.provider),
    filters.active === undefined ? undefined : eq(users.active, filters.active),
    // Emails compare case-insensitively, as mail systems do: on the folded key, Unicode-correct and indexed.
    filters.email === undefined ? undefined : eq(users.emailKey, foldCase(filters.email)),
    filters.organizationId === undefined ? undefined : eq(users.organizationId, filters.organizationId),
    filters.updatedSince === undefined ? undefined : gt(users.updatedAt, filters.updatedSince),
    page.after ? sql`(${users.provider}, ${users.externalId}) > (${page.after.provider}, ${page.after.externalId})` : undefined,
  ];
  return drizzle(d1)
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(asc(users.provider), asc(users.externalId))
    .limit(page.limit)
    .all();
}

export async function getUser(d1: D1Database, key: Cursor, scope: ReadScope): Promise<UserRow | null> {
  const where = and(eq(users.provider, key.provider), eq(users.externalId, key.externalId), inScope(users.organizationId, scope));
  return (await drizzle(d1).select().from(users).where(where).get()) ?? null;
}

export async function listGroups(
  d1: D1Database,
  filters: { provider?: string; organizationId?: string },
  page: { after: Cursor | null; limit: number },
  scope: ReadScope,
): Promise<GroupRow[]> {
  return drizzle(d1)
    .select()
    .from(groups)
    .where(
      and(
        inScope(groups.organizationId, scope),
        filters.provider === undefined ? undefined : eq(groups.provider, filters.provider),
        filters.organizationId === undefined ? undefined : eq(groups.organizationId, filters.organizationId),
        page.after ? sql`(${groups.provider}, ${groups.externalId}) > (${page.after.provider}, ${page.after.externalId})` : undefined,
      ),
    )
    .orderBy(asc(groups.provider), asc(groups.externalId))
    .limit(page.limit)
    .all();
}

export async function getGroup(d1: D1Database, key: Cursor, scope: ReadScope): Promise<GroupRow | null> {
  const where = and(eq(groups.provider, key.provider), eq(groups.externalId, key.externalId), inScope(groups.organizationId, scope));
  return (await drizzle(d1).select().from(groups).where(where).get()) ?? null;
}

/**
 * Current members of a group (group_members holds only those), in user id order, with their
 * user rows when known. Scoped: only members whose user row is in the organization (the caller checks the group).
 */
export async function groupMemberPage(d1: D1Database, group: Cursor, page: { after: string | null; limit: number }, scope: ReadScope) {
  return drizzle(d1)
    .select({ userExternalId: groupMembers.userExternalId, addedAt: groupMembers.addedAt, user: users })
    .from(groupMembers)
    .leftJoin(users, and(eq(users.provider, groupMembers.provider), eq(users.externalId, groupMembers.userExternalId)))
    .where(
      and(
        eq(groupMembers.provider, group.provider),
        eq(groupMembers.groupExternalId, group.externalId),
        inScope(users.organizationId, scope),
        page.after === null ? undefined : gt(groupMembers.userExternalId, page.after),
      ),
    )
    .orderBy(asc(groupMembers.userExternalId))
    .limit(page.limit)
    .all();
}

export interface Membership {
  provider: string;
  userExternalId: string;
  groupExternalId: string;
  groupName: string | null;
  /** The group's tenant: role mappings match on it (directory/roles.ts). Null when the group row is unknown. */
  groupOrganizationId: string | null;
  groupDirectoryId: string | null;
}

/**
 * Current group memberships of several users at once (one query per page, never one per user).
 * Scoped: only groups of the organization.
 */
export async function membershipsOf(d1: D1Database, keys: Cursor[], scope: ReadScope): Promise<Membership[]> {
  if (keys.length === 0) return [];
  return drizzle(d1)
    .select({
      provider: groupMembers.provider,
      userExternalId: groupMembers.userExternalId,
      groupExternalId: groupMembers.groupExternalId,
      groupName: groups.name,
      groupOrganizationId: groups.organizationId,
      groupDirectoryId: groups.directoryId,
    })
    .from(groupMembers)
    .leftJoin(groups, and(eq(groups.provider, groupMembers.provider), eq(groups.externalId, groupMembers.groupExternalId)))
    .where(and(isNull(groups.deletedAt), keyIn(groupMembers.provider, groupMembers.userExternalId, keys), inScope(groups.organizationId, scope)))
    .orderBy(asc(groupMembers.groupExternalId))
    .all();
}

/** Members of several groups at once, for SCIM Group resources. Scoped: only users of the organization. */
export async function membersOf(d1: D1Database, keys: Cursor[], scope: ReadScope): Promise<{ provider: string; groupExternalId: string; userExternalId: string }[]> {
  if (keys.length === 0) return [];
  return drizzle(d1)
    .select({ provider: groupMembers.provider, groupExternalId: groupMembers.groupExternalId, userExternalId: groupMembers.userExternalId })
    .from(groupMembers)
    .leftJoin(users, and(eq(users.provider, groupMembers.provider), eq(users.externalId, groupMembers.userExternalId)))
    .where(and(keyIn(groupMembers.provider, groupMembers.groupExternalId, keys), inScope(users.organizationId, scope)))
    .orderBy(asc(groupMembers.userExternalId))
    .all();
}

/**
 * A page of rows matching a prepared SQL condition, with the total: for SCIM's offset paging.
 * `orderBy` (SCIM sortBy) comes first; (provider, external_id) always breaks ties, so pages are stable.
 */
export async function scimPage<T extends typeof users | typeof groups>(
  d1: D1Database,
  table: T,
  filter: SQL | undefined,
  page: { offset: number; limit: number; orderBy?: SQL[] },
  scope: ReadScope,
): Promise<{ rows: T["$inferSelect"][]; total: number }> {
  const db = drizzle(d1);
  // The scope is ANDed outside the filter, so no filter can widen it.
  const condition = and(inScope(table.organizationId, scope), filter === undefined ? undefined : sql`(${filter})`);
  const [rows, counted] = await db.batch([
    db.select().from(table as typeof users).where(condition).orderBy(...(page.orderBy ?? []), asc(table.provider), asc(table.externalId)).limit(page.limit).offset(page.offset),
    db.select({ n: sql<number>`count(*)` }).from(table as typeof users).where(condition),
  ]);
  return { rows: rows as T["$inferSelect"][], total: counted[0]?.n ?? 0 };
}
