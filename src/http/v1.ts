import type { DirectoryUser } from "../events";
import { changeJson, readChanges } from "../changes/feed";
import { readConfig } from "../config";
import { getGroup, getUser, groupMemberPage, listGroups, listUsers, membershipsOf, type Cursor, type GroupRow, type UserRow } from "../directory/read";
import { rolesFor } from "../directory/roles";
import { listDirectories, type DirectoryRow } from "../directory/directories";
import type { ReadScope } from "../directory/read";
import type * as z from "zod";
import { readAuth, type ReadEnv } from "./auth";
import { errorResponse } from "./errors";
import { encodeCursor } from "./opaque-cursor";
import { isoTime, TypedRouter } from "./openapi-common";
import * as routes from "./openapi-v1";

/**
 * The JSON API for the application (Bearer: an admin or read token, see auth.ts). Lists are
 * cursor-paginated: pass the response's `next_cursor` back as `cursor` until it is null. An
 * organization-scoped read token sees only its organization (every query takes `readScope`).
 * Requests and responses are declared in openapi-v1.ts (served at /openapi.json).
 */

const positionCursor = (position: Cursor) => encodeCursor([position.provider, position.externalId]);

/** Effective roles: the provider's and ROLE_MAPPING's, each labelled with its source. */
function effectiveRoles(row: UserRow, mappingRoles: string[]) {
  // Written only from the event schema's `providerRoles` (events.ts): a sorted string array.
  const providerRoles = (row.providerRoles ?? []) as string[];
  const roleSources = [
    ...providerRoles.map((role) => ({ role, source: "provider" as const })),
    ...mappingRoles.map((role) => ({ role, source: "mapping" as const })),
  ].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : a.source < b.source ? -1 : 1));
  return { roles: [...new Set(roleSources.map((entry) => entry.role))], role_sources: roleSources };
}

function userJson(row: UserRow, mappingRoles: string[]) {
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
    // Written only from the event schema's `attributes` (events.ts).
    attributes: (row.attributes ?? null) as DirectoryUser["attributes"],
    ...effectiveRoles(row, mappingRoles),
    created_at: isoTime(row.createdAt),
    updated_at: isoTime(row.updatedAt),
    deleted_at: isoTime(row.deletedAt),
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
    created_at: isoTime(row.createdAt),
    updated_at: isoTime(row.updatedAt),
    deleted_at: isoTime(row.deletedAt),
  };
}

function directoryJson(row: DirectoryRow) {
  return {
    id: `${row.provider}:${row.id}`,
    provider: row.provider,
    directory_id: row.id,
    organization_id: row.organizationId,
    directory_type: row.directoryType,
    idp_provider: row.idpProvider,
    enabled: row.enabled,
    status: row.status,
    last_event_at: isoTime(row.lastEventAt),
    created_at: isoTime(row.createdAt),
    updated_at: isoTime(row.updatedAt),
  };
}

/** A page of directories as GET /v1/directories and GET /admin/directories answer it. */
export async function directoryPage(d1: D1Database, query: z.output<typeof routes.directoriesQuery>, scope: ReadScope) {
  const { cursor: after, limit: size, organization_id, ...filters } = query;
  const rows = await listDirectories(d1, { ...filters, organizationId: organization_id }, { after: after ?? null, limit: size + 1 }, scope);
  const page = rows.slice(0, size);
  return { directories: page.map(directoryJson), next_cursor: rows.length > size ? encodeCursor([page.at(-1)!.provider, page.at(-1)!.id]) : null };
}

export function v1Routes() {
  const app = new TypedRouter<ReadEnv>();
  app.use("*", readAuth());

  app.openapi(routes.listUsers, async (c) => {
    // Roles need ROLE_MAPPING: an invalid one answers 503 here, before any read (app.ts).
    const mapping = readConfig(c.env).roleMapping;
    const scope = c.get("readScope");
    const { cursor: after, limit: size, organization_id, updated_since, ...filters } = c.req.valid("query");
    const rows = await listUsers(c.env.DB, { ...filters, organizationId: organization_id, updatedSince: updated_since }, { after: after ?? null, limit: size + 1 }, scope);
    const page = rows.slice(0, size);
    const memberships = await membershipsOf(c.env.DB, page, scope);
    return c.json(
      {
        users: page.map((row) => userJson(row, rolesFor(row, memberships.filter((m) => m.provider === row.provider && m.userExternalId === row.externalId), mapping))),
        next_cursor: rows.length > size ? positionCursor(page.at(-1)!) : null,
      },
      200,
    );
  });

  app.openapi(routes.getUser, async (c) => {
    const mapping = readConfig(c.env).roleMapping;
    const scope = c.get("readScope");
    const row = await getUser(c.env.DB, c.req.valid("param"), scope);
    if (!row) return errorResponse(c, 404, "not_found");
    const memberships = await membershipsOf(c.env.DB, [row], scope);
    return c.json(
      {
        ...userJson(row, rolesFor(row, memberships, mapping)),
        groups: memberships.map((m) => ({ id: `${m.provider}:${m.groupExternalId}`, external_id: m.groupExternalId, name: m.groupName })),
      },
      200,
    );
  });

  app.openapi(routes.listGroups, async (c) => {
    const query = c.req.valid("query");
    const rows = await listGroups(c.env.DB, { provider: query.provider, organizationId: query.organization_id }, { after: query.cursor ?? null, limit: query.limit + 1 }, c.get("readScope"));
    const page = rows.slice(0, query.limit);
    return c.json({ groups: page.map(groupJson), next_cursor: rows.length > query.limit ? positionCursor(page.at(-1)!) : null }, 200);
  });

  app.openapi(routes.listChanges, async (c) => {
    const { after, limit, types, organization_id, provider } = c.req.valid("query");
    const page = await readChanges(c.env.DB, after, limit, { types, organizationId: organization_id, provider }, c.get("readScope"));
    if (!page.ok) return errorResponse(c, 410, "cursor_expired", { latest_seq: page.latest, pruned_through: page.prunedThrough });
    return c.json({ changes: page.changes.map(changeJson), next: page.next, latest_seq: page.latest }, 200);
  });

  app.openapi(routes.listDirectories, async (c) => c.json(await directoryPage(c.env.DB, c.req.valid("query"), c.get("readScope")), 200));

  app.openapi(routes.listGroupMembers, async (c) => {
    const query = c.req.valid("query");
    const group = c.req.valid("param");
    const scope = c.get("readScope");
    if (!(await getGroup(c.env.DB, group, scope))) return errorResponse(c, 404, "not_found");
    const rows = await groupMemberPage(c.env.DB, group, { after: query.cursor?.externalId ?? null, limit: query.limit + 1 }, scope);
    const page = rows.slice(0, query.limit);
    return c.json(
      {
        group: `${group.provider}:${group.externalId}`,
        members: page.map((member) => ({
          id: `${group.provider}:${member.userExternalId}`,
          external_id: member.userExternalId,
          email: member.user?.email ?? null,
          active: member.user ? member.user.active && member.user.deletedAt === null : null,
          added_at: isoTime(member.addedAt),
        })),
        next_cursor: rows.length > query.limit ? positionCursor({ provider: group.provider, externalId: page.at(-1)!.userExternalId }) : null,
      },
      200,
    );
  });
  return app;
}
