import { Hono, type Context } from "hono";
import * as z from "zod";
import { readConfig } from "../config";
import { getGroup, getUser, groupMemberPage, listGroups, listUsers, membershipsOf, type Cursor, type GroupRow, type UserRow } from "../directory/read";
import { rolesFor } from "../directory/roles";
import { readAuth, type ReadEnv } from "./auth";
import { errorResponse } from "./errors";
import { cursorOf, encodeCursor } from "./opaque-cursor";

/**
 * The JSON API for the application (Bearer: an admin or read token, see auth.ts). Lists are
 * cursor-paginated: pass the response's `next_cursor` back as `cursor` until it is null. An
 * organization-scoped read token sees only its organization (every query takes `readScope`).
 * Shapes are documented in README.md.
 */

const MAX_LIMIT = 200;
const limit = z.coerce.number().int().min(1).max(MAX_LIMIT).default(50);
const cursor = cursorOf(z.tuple([z.string(), z.string()])).transform(([provider, externalId]) => ({ provider, externalId }));
const bool = z.enum(["true", "false"]).transform((value) => value === "true");

const usersQuery = z.object({
  provider: z.string().min(1).max(64).optional(),
  active: bool.optional(),
  email: z.string().min(1).max(1024).optional(),
  organization_id: z.string().min(1).max(1024).optional(),
  updated_since: z.iso.datetime({ offset: true }).transform((value) => Date.parse(value)).optional(),
  cursor: cursor.optional(),
  limit,
});
const groupsQuery = z.object({ provider: z.string().min(1).max(64).optional(), organization_id: z.string().min(1).max(1024).optional(), cursor: cursor.optional(), limit });
const membersQuery = z.object({ cursor: cursor.optional(), limit });

const positionCursor = (position: Cursor) => encodeCursor([position.provider, position.externalId]);

function invalidQuery(c: Context<ReadEnv>, error: z.ZodError) {
  return errorResponse(c, 400, "invalid_query", { issues: error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`) });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function userJson(row: UserRow, roles: string[]) {
  return {
    id: `${row.provider}:${row.externalId}`,
    provider: row.provider,
    external_id: row.externalId,
    email: row.email,
    first_name: row.firstName,
    last_name: row.lastName,
    user_name: row.userName,
    active: row.active && row.deletedAt === null,
    deleted: row.deletedAt !== null,
    forgotten: row.forgottenAt !== null,
    organization_id: row.organizationId,
    directory_id: row.directoryId,
    attributes: row.attributes ?? null,
    roles,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    deleted_at: iso(row.deletedAt),
  };
}

function groupJson(row: GroupRow) {
  return {
    id: `${row.provider}:${row.externalId}`,
    provider: row.provider,
    external_id: row.externalId,
    name: row.name,
    deleted: row.deletedAt !== null,
    organization_id: row.organizationId,
    directory_id: row.directoryId,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    deleted_at: iso(row.deletedAt),
  };
}

export function v1Routes() {
  const app = new Hono<ReadEnv>();
  app.use("*", readAuth());

  app.get("/users", async (c) => {
    const query = usersQuery.safeParse(c.req.query());
    if (!query.success) return invalidQuery(c, query.error);
    // Roles need ROLE_MAPPING: an invalid one answers 503 here, before any read (app.ts).
    const mapping = readConfig(c.env).roleMapping;
    const scope = c.get("readScope");
    const { cursor: after, limit: size, organization_id, updated_since, ...filters } = query.data;
    const rows = await listUsers(c.env.DB, { ...filters, organizationId: organization_id, updatedSince: updated_since }, { after: after ?? null, limit: size + 1 }, scope);
    const page = rows.slice(0, size);
    const memberships = await membershipsOf(c.env.DB, page, scope);
    return c.json({
      users: page.map((row) => userJson(row, rolesFor(row, memberships.filter((m) => m.provider === row.provider && m.userExternalId === row.externalId), mapping))),
      next_cursor: rows.length > size ? positionCursor(page.at(-1)!) : null,
    });
  });

  app.get("/users/:provider/:externalId", async (c) => {
    const mapping = readConfig(c.env).roleMapping;
    const scope = c.get("readScope");
    const row = await getUser(c.env.DB, { provider: c.req.param("provider"), externalId: c.req.param("externalId") }, scope);
    if (!row) return errorResponse(c, 404, "not_found");
    const memberships = await membershipsOf(c.env.DB, [row], scope);
    return c.json({
      ...userJson(row, rolesFor(row, memberships, mapping)),
      groups: memberships.map((m) => ({ id: `${m.provider}:${m.groupExternalId}`, external_id: m.groupExternalId, name: m.groupName })),
    });
  });

  app.get("/groups", async (c) => {
    const query = groupsQuery.safeParse(c.req.query());
    if (!query.success) return invalidQuery(c, query.error);
    const rows = await listGroups(
      c.env.DB,
      { provider: query.data.provider, organizationId: query.data.organization_id },
      { after: query.data.cursor ?? null, limit: query.data.limit + 1 },
      c.get("readScope"),
    );
    const page = rows.slice(0, query.data.limit);
    return c.json({ groups: page.map(groupJson), next_cursor: rows.length > query.data.limit ? positionCursor(page.at(-1)!) : null });
  });

  app.get("/groups/:provider/:externalId/members", async (c) => {
    const query = membersQuery.safeParse(c.req.query());
    if (!query.success) return invalidQuery(c, query.error);
    const group = { provider: c.req.param("provider"), externalId: c.req.param("externalId") };
    const scope = c.get("readScope");
    if (!(await getGroup(c.env.DB, group, scope))) return errorResponse(c, 404, "not_found");
    const rows = await groupMemberPage(c.env.DB, group, { after: query.data.cursor?.externalId ?? null, limit: query.data.limit + 1 }, scope);
    const page = rows.slice(0, query.data.limit);
    return c.json({
      group: `${group.provider}:${group.externalId}`,
      members: page.map((member) => ({
        id: `${group.provider}:${member.userExternalId}`,
        external_id: member.userExternalId,
        email: member.user?.email ?? null,
        active: member.user ? member.user.active && member.user.deletedAt === null : null,
        added_at: iso(member.addedAt),
      })),
      next_cursor: rows.length > query.data.limit ? positionCursor({ provider: group.provider, externalId: page.at(-1)!.userExternalId }) : null,
    });
  });
  return app;
}
