import { and, asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Cursor, ReadScope } from "./read";
import { directories } from "./schema";

/**
 * Reads of the directories table (written only by directory/writes.ts): the /v1 and /admin lists,
 * and the question reconciliation asks before it touches a directory.
 */

export type DirectoryRow = typeof directories.$inferSelect;

export interface DirectoryFilters {
  provider?: string;
  organizationId?: string;
  enabled?: boolean;
}

/**
 * A page in (provider, id) order, the primary key, so pages stay stable while rows change.
 * An organization-scoped caller sees only its organization's directories (a directory of
 * another organization, or of none, reads like a missing one), as every directory read does.
 */
export async function listDirectories(d1: D1Database, filters: DirectoryFilters, page: { after: Cursor | null; limit: number }, scope: ReadScope): Promise<DirectoryRow[]> {
  return drizzle(d1)
    .select()
    .from(directories)
    .where(
      and(
        scope.organizationId === null ? undefined : eq(directories.organizationId, scope.organizationId),
        filters.provider === undefined ? undefined : eq(directories.provider, filters.provider),
        filters.organizationId === undefined ? undefined : eq(directories.organizationId, filters.organizationId),
        filters.enabled === undefined ? undefined : eq(directories.enabled, filters.enabled),
        page.after ? sql`(${directories.provider}, ${directories.id}) > (${page.after.provider}, ${page.after.externalId})` : undefined,
      ),
    )
    .orderBy(asc(directories.provider), asc(directories.id))
    .limit(page.limit)
    .all();
}

/**
 * Whether reconciliation may work on a directory: false only when the provider last said it is
 * disabled. An unknown directory, or one whose state no event has given, is not refused: the
 * Directory API listing that finds it says whether it is enabled.
 *
 * @example
 * if (!(await isDirectoryEnabled(env.DB, "scalekit", "dir_123"))) return skip("directory_disabled");
 */
export async function isDirectoryEnabled(d1: D1Database, provider: string, directoryId: string): Promise<boolean> {
  const row = await drizzle(d1)
    .select({ enabled: directories.enabled })
    .from(directories)
    .where(and(eq(directories.provider, provider), eq(directories.id, directoryId)))
    .get();
  return row?.enabled !== false;
}
