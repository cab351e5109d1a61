import { and, asc, eq, gt, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { groupMembers, groups, users } from "./schema";

/**
 * Reads of the synced directory, for the JSON API and the SCIM server. Pages are keyset-ordered
 * by (provider, external_id), the primary key, so they stay stable while rows change.
 */

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

export async function listUsers(d1: D1Database, filters: UserFilters, page: { after: Cursor | null; limit: number }): Promise<UserRow[]> {
  const conditions: (SQL | undefined)[] = [
    filters.provider === undefined ? undefined : eq(users.provider, filters.provider),
    filters.active === undefined ? undefined : eq(users.active, filters.active),
    // Emails compare case-insensitively, as mail systems do.
    filters.email === undefined ? undefined : sql`lower(${users.email}) = lower(${filters.email})`,
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

export async function getUser(d1: D1Database, key: Cursor): Promise<UserRow | null> {
  return (await drizzle(d1).select().from(users).where(and(eq(users.provider, key.provider), eq(users.externalId, key.externalId))).get()) ?? null;
}

export async function listGroups(
  d1: D1Database,
  filters: { provider?: string; organizationId?: string },
  page: { after: Cursor | null; limit: number },
): Promise<GroupRow[]> {
  return drizzle(d1)
    .select()
    .from(groups)
    .where(
      and(
        filters.provider === undefined ? undefined : eq(groups.provider, filters.provider),
        filters.organizationId === undefined ? undefined : eq(groups.organizationId, filters.organizationId),
        page.after ? sql`(${groups.provider}, ${groups.externalId}) > (${page.after.provider}, ${page.after.externalId})` : undefined,
      ),
    )
    .orderBy(asc(groups.provider), asc(groups.externalId))
    .limit(page.limit)
    .all();
}

export async function getGroup(d1: D1Database, key: Cursor): Promise<GroupRow | null> {
  return (await drizzle(d1).select().from(groups).where(and(eq(groups.provider, key.provider), eq(groups.externalId, key.externalId))).get()) ?? null;
}

/** Current members of a group (removed_at IS NULL), in user id order, with their user rows when known. */
export async function groupMemberPage(d1: D1Database, group: Cursor, page: { after: string | null; limit: number }) {
  return drizzle(d1)
    .select({ userExternalId: groupMembers.userExternalId, addedAt: groupMembers.addedAt, user: users })
    .from(groupMembers)
    .leftJoin(users, and(eq(users.provider, groupMembers.provider), eq(users.externalId, groupMembers.userExternalId)))
    .where(
      and(
        eq(groupMembers.provider, group.provider),
        eq(groupMembers.groupExternalId, group.externalId),
        isNull(groupMembers.removedAt),
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
}

/** Current group memberships of several users at once (one query per page, never one per user). */
export async function membershipsOf(d1: D1Database, keys: Cursor[]): Promise<Membership[]> {
  if (keys.length === 0) return [];
  const byProvider = new Map<string, string[]>();
  for (const key of keys) byProvider.set(key.provider, [...(byProvider.get(key.provider) ?? []), key.externalId]);
  return drizzle(d1)
    .select({ provider: groupMembers.provider, userExternalId: groupMembers.userExternalId, groupExternalId: groupMembers.groupExternalId, groupName: groups.name })
    .from(groupMembers)
    .leftJoin(groups, and(eq(groups.provider, groupMembers.provider), eq(groups.externalId, groupMembers.groupExternalId)))
    .where(
      and(
        isNull(groupMembers.removedAt),
        isNull(groups.deletedAt),
        or(...[...byProvider].map(([provider, ids]) => and(eq(groupMembers.provider, provider), inArray(groupMembers.userExternalId, ids)))),
      ),
    )
    .orderBy(asc(groupMembers.groupExternalId))
    .all();
}

/** Members of several groups at once, for SCIM Group resources. */
export async function membersOf(d1: D1Database, keys: Cursor[]): Promise<{ provider: string; groupExternalId: string; userExternalId: string }[]> {
  if (keys.length === 0) return [];
  return drizzle(d1)
    .select({ provider: groupMembers.provider, groupExternalId: groupMembers.groupExternalId, userExternalId: groupMembers.userExternalId })
    .from(groupMembers)
    .where(
      and(
        isNull(groupMembers.removedAt),
        or(...keys.map((key) => and(eq(groupMembers.provider, key.provider), eq(groupMembers.groupExternalId, key.externalId)))),
      ),
    )
    .orderBy(asc(groupMembers.userExternalId))
    .all();
}

/** A page of rows matching a prepared SQL condition, with the total: for SCIM's offset paging. */
export async function scimPage<T extends typeof users | typeof groups>(
  d1: D1Database,
  table: T,
  condition: SQL | undefined,
  page: { offset: number; limit: number },
): Promise<{ rows: T["$inferSelect"][]; total: number }> {
  const db = drizzle(d1);
  const [rows, counted] = await db.batch([
    db.select().from(table as typeof users).where(condition).orderBy(asc(table.provider), asc(table.externalId)).limit(page.limit).offset(page.offset),
    db.select({ n: sql<number>`count(*)` }).from(table as typeof users).where(condition),
  ]);
  return { rows: rows as T["$inferSelect"][], total: counted[0]?.n ?? 0 };
}
