import { and, eq, isNull, sql } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { membersOf, membershipsOf, scimPage, UNSCOPED, type GroupRow, type UserRow } from "../directory/read";
import { groups, users } from "../directory/schema";
import type { DirectoryEvent, UserProfile } from "../events";
import { connectionBaseUrl, type ScimConnection } from "../scim/connections";
import { filterToSql } from "../scim/filter";
import { listRequestFromQuery, listRequestFromSearch, type ListRequest } from "../scim/list-request";
import { parseProjection, project, returnsAttribute } from "../scim/projection";
import { GROUP_SCHEMAS, SCHEMA, USER_SCHEMAS } from "../scim/resources";
import { sortToSql } from "../scim/sort";
import { applyPatch } from "../scim/write/patch";
import {
  connectionGroup,
  connectionGroupFilterAttributes,
  connectionUser,
  connectionUserFilterAttributes,
  derivedAttributes,
  etagOf,
  groupBody,
  ifMatchHolds,
  userFields,
  type UserFields,
} from "../scim/write/resource";
import { commit, userMembershipFloor, groupByName, groupsOfUser, liveGroup, liveUser, liveUserIds, memberIdsOf, membershipFloor, nextClock, userByUserName } from "../scim/write/store";
import { commitUserWrite, type GuardedWrite } from "../scim/write/guard";
import { consumerConfig } from "../config";
import type { ConnectionEnv } from "./connection-auth";

/**
 * The write half of a connection's SCIM service provider (RFC 7644 §3.3-3.6): Users and Groups
 * under /scim/v2/connections/:connectionId, behind connectionAuth (scim-connections.ts).
 *
 * - The server assigns ids (UUIDs) and each write's version: `scim:<request id>` at the request's
 *   time, just after the version it builds on (scim/write/store.ts nextClock), so a later request
 *   wins. Each write is one D1 batch of directory writes plus its event_log row, and the response
 *   is read back from the stored rows.
 * - DELETE is a soft delete, as a provider's user_deleted / group_deleted: the row stays with
 *   deleted_at set (a user is deactivated), and is 404 from then on: a retried DELETE answers 404,
 *   and a retried PATCH or PUT after it cannot bring anything back.
 * - A retried POST of the same userName answers 409 uniqueness; a retried PUT or PATCH computes
 *   the same state from the state it lands on, so it changes nothing twice.
 * - ETag is a weak hash of the representation; If-Match that does not match answers 412, and
 *   If-None-Match that does, on a GET, 304.
 */

const SCIM_JSON = "application/scim+json";
/** Bodies are a few KB; a full group push of 10,000 members fits. */
const MAX_BODY_BYTES = 1024 * 1024;

type C = Context<ConnectionEnv>;

function writeError(c: C, status: ContentfulStatusCode, detail: string, scimType?: string) {
  const body = { schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail };
  return c.body(JSON.stringify(body), status, { "content-type": SCIM_JSON });
}

/**
 * A user write the destructive guard stopped (scim/write/guard.ts): nothing was applied. 429 with
 * Retry-After, because both Okta and Entra back off and retry a 429 (a 4xx such as 403 would
 * fail the push for good; 503 would say the service is down). A retry after the window applies
 * under the new budget, as the webhook path's next window does; until then a held write waits
 * for an operator. No scimType: RFC 7644 §3.12 defines none for throttling.
 */
function pausedByGuard(c: C, stopped: Extract<GuardedWrite, { outcome: "held" | "contended" }>) {
  const detail =
    stopped.outcome === "held"
      ? "deactivations for this connection are paused past the destructive guard; an operator must release them"
      : "deactivations for this connection reached the destructive guard's budget while this request was applied; retry";
  const body = { schemas: [SCHEMA.error], status: "429", detail };
  return c.body(JSON.stringify(body), 429, { "content-type": SCIM_JSON, "retry-after": String(stopped.retryAfterSeconds) });
}

/** `shown`: the representation as projected (attributes=…), when not the whole resource; the ETag is always the whole one's. */
function respond(c: C, resource: Record<string, unknown>, status: 200 | 201 = 200, shown: Record<string, unknown> = resource) {
  const headers: Record<string, string> = { "content-type": SCIM_JSON, etag: etagOf(resource) };
  if (status === 201) headers.location = (resource.meta as { location: string }).location;
  return c.body(JSON.stringify(shown), status, headers);
}

const connectionOf = (c: C): ScimConnection => c.get("scimConnection");
const baseOf = (c: C) => connectionBaseUrl(new URL(c.req.url).origin, connectionOf(c).id);
const splitList = (value: string | undefined) => (value === undefined ? null : value.split(","));

/** The JSON body, or a SCIM 400 invalidSyntax. */
async function jsonBody(c: C): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  try {
    return { ok: true, body: await c.req.json() };
  } catch {
    return { ok: false, response: writeError(c, 400, "The body is not JSON.", "invalidSyntax") };
  }
}

function eventBase(c: C, requestId: string, clock: { occurredAt: number; occurredAtNanos: number }, sourceType: string) {
  return { provider: connectionOf(c).provider, eventId: `scim:${requestId}`, occurredAt: clock.occurredAt, occurredAtNanos: clock.occurredAtNanos, sourceType };
}

async function userResponse(c: C, id: string): Promise<Record<string, unknown> | null> {
  const row = await liveUser(c.env.DB, connectionOf(c).provider, id);
  return row ? connectionUser(row, await groupsOfUser(c.env.DB, row), baseOf(c)) : null;
}

async function groupResponse(c: C, id: string): Promise<Record<string, unknown> | null> {
  const row = await liveGroup(c.env.DB, connectionOf(c).provider, id);
  return row ? connectionGroup(row, await memberIdsOf(c.env.DB, row), baseOf(c)) : null;
}

export function scimWriteRoutes() {
  const app = new Hono<ConnectionEnv>();
  const limit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => writeError(c as C, 413, `A request body is at most ${MAX_BODY_BYTES} bytes.`) });

  // ---- Users ----

  app.get("/Users", (c) => listUsers(c, listRequestFromQuery(c.req.query())));
  // RFC 7644 §3.4.3: the same query with its parameters in a SearchRequest body.
  app.post("/Users/.search", limit, async (c) => listUsers(c, listRequestFromSearch(await c.req.text())));

  /**
   * If-None-Match (RFC 7644 §3.14, RFC 7232 §3.2) naming the current tag, compared weakly as
   * If-Match is, or `*`: 304 with the ETag and no body, the client's copy is current.
   */
  const notModified = (c: C, resource: Record<string, unknown>) => {
    const header = c.req.header("if-none-match");
    return header !== undefined && ifMatchHolds(header, etagOf(resource)) ? c.body(null, 304, { etag: etagOf(resource) }) : null;
  };

  app.get("/Users/:id", async (c) => {
    const resource = await userResponse(c, c.req.param("id"));
    if (!resource) return writeError(c, 404, "No such user.");
    const unchanged = notModified(c, resource);
    if (unchanged) return unchanged;
    return respond(c, resource, 200, project(resource, parseProjection(splitList(c.req.query("attributes")), splitList(c.req.query("excludedAttributes")), USER_SCHEMAS)));
  });

  app.post("/Users", limit, async (c) => {
    const parsed = await jsonBody(c);
    if (!parsed.ok) return parsed.response;
    const fields = userFields(parsed.body as Record<string, unknown>);
    if (!fields.ok) return writeError(c, 400, fields.detail, "invalidValue");
    const connection = connectionOf(c);
    if (await userByUserName(c.env.DB, connection.provider, fields.user.userName!)) {
      return writeError(c, 409, "A user with this userName already exists in this connection.", "uniqueness");
    }
    const id = crypto.randomUUID();
    const now = c.get("now")();
    const stored = await commit(
      c.env.DB,
      [{ ...eventBase(c, crypto.randomUUID(), nextClock(now, []), "scim.user.create"), kind: "user_upserted", user: { ...fields.user, externalId: id, organizationId: connection.organizationId, directoryId: null } }],
      now,
      { table: "users", provider: connection.provider, name: fields.user.userName! },
    );
    if (!stored) return writeError(c, 409, "A user with this userName already exists in this connection.", "uniqueness");
    const resource = await userResponse(c, id);
    return resource ? respond(c, resource, 201) : writeError(c, 500, "Unexpected error.");
  });

  /** PUT and PATCH: compute the new representation from the stored one, then store it. */
  const replaceUser = async (c: C, next: (current: Record<string, unknown>) => Promise<{ ok: true; resource: Record<string, unknown> } | { ok: false; response: Response }>) => {
    const connection = connectionOf(c);
    const id = c.req.param("id")!;
    const row = await liveUser(c.env.DB, connection.provider, id);
    if (!row) return writeError(c, 404, "No such user.");
    const current = connectionUser(row, await groupsOfUser(c.env.DB, row), baseOf(c));
    if (!ifMatchHolds(c.req.header("if-match"), etagOf(current))) return writeError(c, 412, "The user has changed since the version in If-Match.");
    const result = await next(current);
    if (!result.ok) return result.response;
    // A PATCH starts from the representation, whose derived displayName and emails it must not turn into stored ones.
    const fields = userFields(result.resource, c.req.method === "PATCH" ? derivedAttributes(row) : {});
    if (!fields.ok) return writeError(c, 400, fields.detail, "invalidValue");
    const holder = await userByUserName(c.env.DB, connection.provider, fields.user.userName!);
    if (holder && holder.externalId !== id) return writeError(c, 409, "Another user of this connection has this userName.", "uniqueness");
    // A retried PUT or PATCH lands on the state it produced: nothing to write, nothing bumped.
    if (sameUser(row, fields.user)) return respond(c, current);
    const now = c.get("now")();
    const user = { ...fields.user, externalId: id, organizationId: connection.organizationId, directoryId: row.directoryId };
    // A deactivation counts against the destructive guard; past it, nothing is applied (429).
    const written = await commitUserWrite(
      c.env.DB,
      { ...eventBase(c, crypto.randomUUID(), nextClock(now, [row.lastEventVersion]), `scim.user.${c.req.method.toLowerCase()}`), kind: "user_upserted", user },
      now,
      {
        guard: () => consumerConfig(c.env).destructiveGuard,
        unique: { table: "users", provider: connection.provider, name: fields.user.userName! },
        expect: { record: { table: "users", provider: connection.provider, externalId: id, version: row.lastEventVersion } },
      },
    );
    if (written.outcome === "held" || written.outcome === "contended") return pausedByGuard(c, written);
    if (written.outcome === "name_taken") return writeError(c, 409, "Another user of this connection has this userName.", "uniqueness");
    const resource = await userResponse(c, id);
    return resource ? respond(c, resource) : writeError(c, 404, "No such user.");
  };

  app.put("/Users/:id", limit, (c) =>
    replaceUser(c, async (current) => {
      const parsed = await jsonBody(c);
      if (!parsed.ok) return parsed;
      if (typeof parsed.body !== "object" || parsed.body === null || Array.isArray(parsed.body)) return { ok: false, response: writeError(c, 400, "The body is not a User.", "invalidSyntax") };
      // id and meta are the server's; the rest is replaced whole (RFC 7644 §3.5.1), except that a
      // PUT leaving `active` out does not reactivate a deactivated user.
      const body = parsed.body as Record<string, unknown>;
      return { ok: true, resource: { ...body, active: body.active ?? current.active, id: current.id } };
    }),
  );

  app.patch("/Users/:id", limit, (c) =>
    replaceUser(c, async (current) => {
      const parsed = await jsonBody(c);
      if (!parsed.ok) return parsed;
      const patched = applyPatch(current, parsed.body, "User");
      if (!patched.ok) return { ok: false, response: writeError(c, patched.status, patched.detail, patched.scimType) };
      // A patch that removes or nulls `active` says nothing about it: never a reactivation.
      const active = typeof patched.resource.active === "boolean" ? patched.resource.active : current.active;
      return { ok: true, resource: { ...patched.resource, active } };
    }),
  );

  app.delete("/Users/:id", async (c) => {
    const connection = connectionOf(c);
    const row = await liveUser(c.env.DB, connection.provider, c.req.param("id"));
    if (!row) return writeError(c, 404, "No such user.");
    const current = connectionUser(row, await groupsOfUser(c.env.DB, row), baseOf(c));
    if (!ifMatchHolds(c.req.header("if-match"), etagOf(current))) return writeError(c, 412, "The user has changed since the version in If-Match.");
    const now = c.get("now")();
    // The profile as stored: a delete event's null fields would keep their values anyway.
    const user = {
      externalId: row.externalId,
      email: row.email,
      firstName: row.firstName,
      lastName: row.lastName,
      organizationId: row.organizationId,
      directoryId: row.directoryId,
      userName: row.userName,
      scimExternalId: row.scimExternalId,
      attributes: (row.attributes ?? null) as Record<string, string> | null,
      providerRoles: (row.providerRoles ?? null) as string[] | null,
      profile: (row.profile ?? null) as UserProfile | null,
    };
    // After the user's newest membership too, so the delete removes every one of them; and re-checked
    // in the batch, so a member add that commits meanwhile aborts this (409, retried) instead of
    // leaving a deleted user in a group.
    const floor = await userMembershipFloor(c.env.DB, connection.provider, row.externalId);
    // Deleting an active user deactivates them: it counts against the destructive guard (429 past it).
    const written = await commitUserWrite(
      c.env.DB,
      { ...eventBase(c, crypto.randomUUID(), nextClock(now, [row.lastEventVersion, floor]), "scim.user.delete"), kind: "user_deleted", user },
      now,
      {
        guard: () => consumerConfig(c.env).destructiveGuard,
        expect: {
          record: { table: "users", provider: connection.provider, externalId: row.externalId, version: row.lastEventVersion },
          membershipsUpTo: { provider: connection.provider, userId: row.externalId, version: floor },
        },
      },
    );
    if (written.outcome === "held" || written.outcome === "contended") return pausedByGuard(c, written);
    return c.body(null, 204);
  });

  // ---- Groups ----

  app.get("/Groups", (c) => listGroups(c, listRequestFromQuery(c.req.query())));
  app.post("/Groups/.search", limit, async (c) => listGroups(c, listRequestFromSearch(await c.req.text())));

  app.get("/Groups/:id", async (c) => {
    const resource = await groupResponse(c, c.req.param("id"));
    if (!resource) return writeError(c, 404, "No such group.");
    const unchanged = notModified(c, resource);
    if (unchanged) return unchanged;
    return respond(c, resource, 200, project(resource, parseProjection(splitList(c.req.query("attributes")), splitList(c.req.query("excludedAttributes")), GROUP_SCHEMAS)));
  });

  app.post("/Groups", limit, async (c) => {
    const parsed = await jsonBody(c);
    if (!parsed.ok) return parsed.response;
    const body = groupBody.safeParse(parsed.body);
    if (!body.success) return writeError(c, 400, `the Group is invalid at ${body.error.issues[0]?.path.join(".") || "its root"}`, "invalidValue");
    const connection = connectionOf(c);
    const memberIds = [...new Set((body.data.members ?? []).map((member) => member.value))];
    const unknown = await unknownMembers(c, memberIds);
    if (unknown) return unknown;
    if (await groupByName(c.env.DB, connection.provider, body.data.displayName)) return groupNameTaken(c);
    const id = crypto.randomUUID();
    const now = c.get("now")();
    const requestId = crypto.randomUUID();
    const clock = nextClock(now, []);
    const events: DirectoryEvent[] = [
      { ...eventBase(c, requestId, clock, "scim.group.create"), kind: "group_upserted", group: { externalId: id, name: body.data.displayName, organizationId: connection.organizationId, directoryId: null, scimExternalId: body.data.externalId ?? null } },
    ];
    if (memberIds.length) events.push({ ...eventBase(c, requestId, clock, "scim.group.create"), eventId: `scim:${requestId}:members`, kind: "group_members_changed", groupExternalId: id, added: memberIds, removed: [] });
    if (!(await commit(c.env.DB, events, now, { table: "groups", provider: connection.provider, name: body.data.displayName }))) return groupNameTaken(c);
    const resource = await groupResponse(c, id);
    return resource ? respond(c, resource, 201) : writeError(c, 500, "Unexpected error.");
  });

  /** PUT and PATCH of a group: a new displayName and/or externalId and/or a member diff, applied together. */
  const changeGroup = async (
    c: C,
    next: (current: Record<string, unknown>, memberIds: string[]) => Promise<{ ok: true; displayName: string; externalId: string | null; added: string[]; removed: string[] } | { ok: false; response: Response }>,
  ) => {
    const connection = connectionOf(c);
    const id = c.req.param("id")!;
    const row = await liveGroup(c.env.DB, connection.provider, id);
    if (!row) return writeError(c, 404, "No such group.");
    const memberIds = await memberIdsOf(c.env.DB, row);
    const current = connectionGroup(row, memberIds, baseOf(c));
    if (!ifMatchHolds(c.req.header("if-match"), etagOf(current))) return writeError(c, 412, "The group has changed since the version in If-Match.");
    const result = await next(current, memberIds);
    if (!result.ok) return result.response;
    const unknown = await unknownMembers(c, result.added);
    if (unknown) return unknown;
    const renamed = result.displayName !== row.name;
    if (renamed) {
      const holder = await groupByName(c.env.DB, connection.provider, result.displayName);
      if (holder && holder.externalId !== id) return groupNameTaken(c);
    }
    const now = c.get("now")();
    const requestId = crypto.randomUUID();
    const events: DirectoryEvent[] = [];
    if (renamed || result.externalId !== row.scimExternalId) {
      const clock = nextClock(now, [row.lastEventVersion]);
      events.push({
        ...eventBase(c, requestId, clock, `scim.group.${c.req.method.toLowerCase()}`),
        kind: "group_upserted",
        group: { externalId: id, name: result.displayName, organizationId: connection.organizationId, directoryId: row.directoryId, scimExternalId: result.externalId },
      });
    }
    if (result.added.length || result.removed.length) {
      const clock = nextClock(now, [row.lastEventVersion, await membershipFloor(c.env.DB, connection.provider, id)]);
      events.push({
        ...eventBase(c, requestId, clock, `scim.group.${c.req.method.toLowerCase()}`),
        eventId: `scim:${requestId}:members`,
        kind: "group_members_changed",
        groupExternalId: id,
        added: result.added,
        removed: result.removed.filter((member) => !result.added.includes(member)),
      });
    }
    const expectation = {
      record: { table: "groups" as const, provider: connection.provider, externalId: id, version: row.lastEventVersion },
      liveUsers: { provider: connection.provider, ids: result.added },
    };
    if (!(await commit(c.env.DB, events, now, renamed ? { table: "groups", provider: connection.provider, name: result.displayName } : undefined, expectation))) return groupNameTaken(c);
    const resource = await groupResponse(c, id);
    return resource ? respond(c, resource) : writeError(c, 404, "No such group.");
  };

  app.put("/Groups/:id", limit, (c) =>
    changeGroup(c, async (_current, memberIds) => {
      const parsed = await jsonBody(c);
      if (!parsed.ok) return parsed;
      const body = groupBody.safeParse(parsed.body);
      if (!body.success) return { ok: false, response: writeError(c, 400, `the Group is invalid at ${body.error.issues[0]?.path.join(".") || "its root"}`, "invalidValue") };
      const wanted = new Set((body.data.members ?? []).map((member) => member.value));
      const had = new Set(memberIds);
      return { ok: true, displayName: body.data.displayName, externalId: body.data.externalId ?? null, added: [...wanted].filter((m) => !had.has(m)), removed: memberIds.filter((m) => !wanted.has(m)) };
    }),
  );

  app.patch("/Groups/:id", limit, (c) =>
    changeGroup(c, async (current) => {
      const parsed = await jsonBody(c);
      if (!parsed.ok) return parsed;
      const patched = applyPatch(current, parsed.body, "Group");
      if (!patched.ok) return { ok: false, response: writeError(c, patched.status, patched.detail, patched.scimType) };
      const displayName = patched.resource.displayName;
      if (typeof displayName !== "string" || displayName.trim() === "" || displayName.length > 1024) {
        return { ok: false, response: writeError(c, 400, "displayName must be a string of 1 to 1024 characters.", "invalidValue") };
      }
      const externalId = patched.resource.externalId ?? null;
      if (externalId !== null && (typeof externalId !== "string" || externalId.length > 1024)) {
        return { ok: false, response: writeError(c, 400, "externalId must be a string of at most 1024 characters.", "invalidValue") };
      }
      return { ok: true, displayName, externalId, added: patched.changedMembers?.added ?? [], removed: patched.changedMembers?.removed ?? [] };
    }),
  );

  app.delete("/Groups/:id", async (c) => {
    const connection = connectionOf(c);
    const row = await liveGroup(c.env.DB, connection.provider, c.req.param("id"));
    if (!row) return writeError(c, 404, "No such group.");
    const current = connectionGroup(row, await memberIdsOf(c.env.DB, row), baseOf(c));
    if (!ifMatchHolds(c.req.header("if-match"), etagOf(current))) return writeError(c, 412, "The group has changed since the version in If-Match.");
    const now = c.get("now")();
    const clock = nextClock(now, [row.lastEventVersion, await membershipFloor(c.env.DB, connection.provider, row.externalId)]);
    await commit(
      c.env.DB,
      [{ ...eventBase(c, crypto.randomUUID(), clock, "scim.group.delete"), kind: "group_deleted", group: { externalId: row.externalId, name: row.name, organizationId: row.organizationId, directoryId: row.directoryId, scimExternalId: row.scimExternalId } }],
      now,
    );
    return c.body(null, 204);
  });

  return app;
}

/** Whether storing these fields would change nothing a client or the change feed can see. */
function sameUser(row: UserRow, user: UserFields): boolean {
  return (
    row.userName === user.userName &&
    row.scimExternalId === user.scimExternalId &&
    row.email === user.email &&
    row.firstName === user.firstName &&
    row.lastName === user.lastName &&
    row.active === user.active &&
    JSON.stringify(row.attributes ?? null) === JSON.stringify(user.attributes ?? null) &&
    // Canonical (scim/write/profile.ts), so equal profiles have equal text.
    JSON.stringify(row.profile ?? null) === JSON.stringify(user.profile ?? null)
  );
}

/** displayName is unique among a connection's live groups, so a retried POST cannot create a second group. */
const groupNameTaken = (c: C) => writeError(c, 409, "A group with this displayName already exists in this connection.", "uniqueness");

/** Members must be live users of this connection: another connection's or provider's ids are refused. */
async function unknownMembers(c: C, ids: string[]): Promise<Response | null> {
  if (ids.length === 0) return null;
  const live = await liveUserIds(c.env.DB, connectionOf(c).provider, ids);
  const missing = ids.filter((id) => !live.has(id));
  return missing.length ? writeError(c, 400, `${missing.length} member(s) are not users of this connection.`, "invalidValue") : null;
}

function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return { schemas: [SCHEMA.listResponse], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}

async function listUsers(c: C, request: ListRequest) {
  const provider = connectionOf(c).provider;
  const projection = parseProjection(request.attributes, request.excludedAttributes, USER_SCHEMAS);
  const filter = request.filter === undefined ? undefined : filterToSql(request.filter, connectionUserFilterAttributes);
  const condition = and(eq(users.provider, provider), isNull(users.deletedAt), filter === undefined ? undefined : sql`(${filter})`);
  const orderBy = sortToSql(request.sortBy, request.sortOrder, connectionUserFilterAttributes);
  const { rows, total } = await scimPage(c.env.DB, users, condition, { offset: request.startIndex - 1, limit: request.count, orderBy }, UNSCOPED);
  const memberships = returnsAttribute(projection, "groups") ? await membershipsOfRows(c, rows) : [];
  const resources = rows.map((row) => project(connectionUser(row, memberships.filter((m) => m.userExternalId === row.externalId), baseOf(c)), projection));
  return c.body(JSON.stringify(listResponse(resources, total, request.startIndex)), 200, { "content-type": SCIM_JSON });
}

async function listGroups(c: C, request: ListRequest) {
  const provider = connectionOf(c).provider;
  const projection = parseProjection(request.attributes, request.excludedAttributes, GROUP_SCHEMAS);
  const filter = request.filter === undefined ? undefined : filterToSql(request.filter, connectionGroupFilterAttributes);
  const condition = and(eq(groups.provider, provider), isNull(groups.deletedAt), filter === undefined ? undefined : sql`(${filter})`);
  const orderBy = sortToSql(request.sortBy, request.sortOrder, connectionGroupFilterAttributes);
  const { rows, total } = await scimPage(c.env.DB, groups, condition, { offset: request.startIndex - 1, limit: request.count, orderBy }, UNSCOPED);
  const members = returnsAttribute(projection, "members") ? await membersOfRows(c, rows) : [];
  const resources = rows.map((row) =>
    project(connectionGroup(row, members.filter((m) => m.groupExternalId === row.externalId).map((m) => m.userExternalId), baseOf(c)), projection),
  );
  return c.body(JSON.stringify(listResponse(resources, total, request.startIndex)), 200, { "content-type": SCIM_JSON });
}

const membershipsOfRows = (c: C, rows: UserRow[]) => membershipsOf(c.env.DB, rows, UNSCOPED);
const membersOfRows = (c: C, rows: GroupRow[]) => membersOf(c.env.DB, rows, UNSCOPED);
