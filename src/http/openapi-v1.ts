import * as z from "zod";
import { cursorOf } from "./opaque-cursor";
import { changeTypes } from "../changes/feed";
import { cursorParam, defineRoute, errorBody, errorResponses, jsonResponse, nextCursor, pageLimit, READ_SECURITY, readAuthResponses, timestamp } from "./openapi-common";

/**
 * The /v1 contract: each route's query (the validator v1.ts runs) and its responses (the JSON
 * v1.ts returns, type-checked), described in /openapi.json from these same objects.
 */

const limit = pageLimit(200, 50);
const cursor = cursorParam(cursorOf(z.tuple([z.string(), z.string()])).transform(([provider, externalId]) => ({ provider, externalId })));
const bool = z.enum(["true", "false"]).transform((value) => value === "true");
const provider = z.string().min(1).max(64).meta({ description: "Only this provider's records (`scalekit`, `firstup`)." });
const organizationId = z.string().min(1).max(1024).meta({ description: "Only this organization's records." });

const recordKey = z.object({
  provider: z.string().meta({ example: "scalekit" }),
  externalId: z.string().meta({ description: "The provider's id for the record." }),
});

export const User = z
  .object({
    id: z.string().meta({ description: "`provider:external_id`.", example: "scalekit:user_abc123" }),
    provider: z.string(),
    external_id: z.string(),
    email: z.string().nullable(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    user_name: z.string().nullable(),
    active: z.boolean().meta({ description: "False for deleted users." }),
    deleted: z.boolean(),
    forgotten: z.boolean().meta({ description: "Personal data erased; only the ids remain." }),
    organization_id: z.string().nullable(),
    directory_id: z.string().nullable(),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullable().meta({ description: "Flat provider attributes (SCIM enterprise extension)." }),
    roles: z.array(z.string()).meta({ description: "Sorted union of the user's provider roles and the roles ROLE_MAPPING grants through their current groups." }),
    role_sources: z
      .array(z.object({ role: z.string(), source: z.enum(["provider", "mapping"]) }))
      .meta({ description: "Each role with where it came from: the identity provider (e.g. Scalekit `roles`) or ROLE_MAPPING. A role from both is listed twice." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    deleted_at: timestamp,
  })
  .meta({ id: "User" });

export const UserWithGroups = User.extend({
  groups: z.array(z.object({ id: z.string(), external_id: z.string(), name: z.string().nullable() })).meta({ description: "The user's current groups." }),
}).meta({ id: "UserWithGroups" });

export const Group = z
  .object({
    id: z.string().meta({ example: "scalekit:group_eng" }),
    provider: z.string(),
    external_id: z.string(),
    name: z.string().nullable(),
    deleted: z.boolean(),
    organization_id: z.string().nullable(),
    directory_id: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    deleted_at: timestamp,
  })
  .meta({ id: "Group" });

export const Member = z
  .object({
    id: z.string(),
    external_id: z.string(),
    email: z.string().nullable().meta({ description: "Null when the user is not (yet) in the directory." }),
    active: z.boolean().nullable().meta({ description: "Null when the user is not (yet) in the directory." }),
    added_at: timestamp,
  })
  .meta({ id: "Member" });

export const listUsers = defineRoute({
  method: "get",
  path: "/users",
  summary: "List users",
  description: "Keyset-paginated by (provider, external_id). With `updated_since`, a change feed that includes deletions.",
  security: READ_SECURITY,
  request: {
    query: z.object({
      provider: provider.optional(),
      active: bool.optional().meta({ description: "`true` or `false`." }),
      email: z.string().min(1).max(1024).optional().meta({ description: "Case-insensitive (Unicode case folding)." }),
      organization_id: organizationId.optional(),
      updated_since: z.iso
        .datetime({ offset: true })
        .transform((value) => Date.parse(value))
        .optional()
        .meta({ description: "ISO 8601; users updated strictly after it (their updated_at also moves when their group memberships change)." }),
      cursor,
      limit,
    }),
  },
  responses: {
    ...readAuthResponses,
    200: jsonResponse(z.object({ users: z.array(User), next_cursor: nextCursor }), "A page of users."),
    400: errorResponses.invalidQuery,
    503: errorResponses.misconfigured,
  },
});

export const getUser = defineRoute({
  method: "get",
  path: "/users/{provider}/{externalId}",
  summary: "One user, with their groups",
  security: READ_SECURITY,
  request: { params: recordKey },
  responses: {
    ...readAuthResponses,
    200: jsonResponse(UserWithGroups, "The user."),
    503: errorResponses.misconfigured,
  },
});

export const listGroups = defineRoute({
  method: "get",
  path: "/groups",
  summary: "List groups",
  security: READ_SECURITY,
  request: { query: z.object({ provider: provider.optional(), organization_id: organizationId.optional(), cursor, limit }) },
  responses: {
    ...readAuthResponses,
    200: jsonResponse(z.object({ groups: z.array(Group), next_cursor: nextCursor }), "A page of groups."),
    400: errorResponses.invalidQuery,
  },
});

export const listGroupMembers = defineRoute({
  method: "get",
  path: "/groups/{provider}/{externalId}/members",
  summary: "A group's current members",
  security: READ_SECURITY,
  request: { params: recordKey, query: z.object({ cursor, limit }) },
  responses: {
    ...readAuthResponses,
    200: jsonResponse(z.object({ group: z.string().meta({ description: "The group's id." }), members: z.array(Member), next_cursor: nextCursor }), "A page of members."),
    400: errorResponses.invalidQuery,
  },
});

export const Directory = z
  .object({
    id: z.string().meta({ description: "`provider:directory_id`.", example: "scalekit:dir_123" }),
    provider: z.string(),
    directory_id: z.string().meta({ description: "The provider's id for the directory (Scalekit `dir_…`)." }),
    organization_id: z.string().nullable(),
    directory_type: z.string().nullable().meta({ description: "How the IdP connects, e.g. `SCIM`." }),
    idp_provider: z.string().nullable().meta({ description: "The identity provider behind it, e.g. `OKTA`." }),
    enabled: z.boolean().nullable().meta({ description: "Whether the customer has sync switched on; null when no event has said. A disabled directory is not reconciled; its users stay as they are." }),
    status: z.string().nullable().meta({ description: "The provider's own status word, verbatim." }),
    last_event_at: z.iso.datetime().meta({ description: "When the provider says the last applied directory event happened." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: "Directory" });

/** The directories list's query, shared by GET /v1/directories and GET /admin/directories. */
export const directoriesQuery = z.object({
  provider: provider.optional(),
  organization_id: organizationId.optional(),
  enabled: bool.optional().meta({ description: "`true` or `false` (directories whose state is unknown match neither)." }),
  cursor,
  limit,
});

export const directoriesPage = jsonResponse(z.object({ directories: z.array(Directory), next_cursor: nextCursor }), "A page of directories, in (provider, directory_id) order.");

export const listDirectories = defineRoute({
  method: "get",
  path: "/directories",
  summary: "List directories (enabled or disabled)",
  description: "Directories the providers have told us about (Scalekit `organization.directory_enabled` / `_disabled`). An organization-scoped read token sees only its organization's.",
  security: READ_SECURITY,
  request: { query: directoriesQuery },
  responses: {
    ...readAuthResponses,
    200: directoriesPage,
    400: errorResponses.invalidQuery,
  },
});

const changeType = z.enum(changeTypes);

/** The change feed's query: a seq cursor, not an opaque one, so a reader can store it as a number. */
export const changesQuery = z.object({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .meta({ description: "Return changes with a sequence number greater than this (the `next` of the previous page; 0 from the start)." }),
  limit: pageLimit(500, 100),
  types: z
    .string()
    .max(1024)
    .transform((value, ctx) => {
      const types = value.split(",").map((type) => type.trim()).filter(Boolean);
      for (const type of types) if (!changeType.safeParse(type).success) ctx.addIssue({ code: "custom", message: `unknown change type ${type}` });
      return types as z.infer<typeof changeType>[];
    })
    .optional()
    .meta({ description: "Comma-separated change types, e.g. `user.deactivated,user.deleted`." }),
  organization_id: organizationId.optional(),
  provider: provider.optional(),
});

export const Change = z
  .object({
    seq: z.number().int().meta({ description: "Monotonic, gap-free for readers: following `next` never skips a change." }),
    type: changeType,
    provider: z.string(),
    organization_id: z.string().nullable(),
    directory_id: z.string().nullable(),
    subject: z.string().meta({ description: "The user's (membership changes: the user's) or the group's external id." }),
    cause: z.string().meta({ description: "The provider event id that caused it, or `reconcile:<run id>`." }),
    source: z.string().meta({ description: "`webhook` (a provider event), `reconcile` (a run), `scim` (a write through a SCIM connection)." }),
    occurred_at: z.iso.datetime(),
    recorded_at: z.iso.datetime(),
    data: z.record(z.string(), z.unknown()).meta({ description: "`{ user }`, `{ user, changed }`, `{ user: { id }, before, after }`, `{ group }`, `{ group, changed }` or `{ group: { id }, user: { id } }` (README, \"Reacting to changes\")." }),
  })
  .meta({ id: "Change" });

export const listChanges = defineRoute({
  method: "get",
  path: "/changes",
  summary: "The change feed",
  description:
    "Every effective change to the directory, in sequence order. Follow `next` to never miss one, even while changes are being committed. Kept CHANGE_RETENTION_DAYS (30); an older cursor answers 410 `cursor_expired`. An organization-scoped read token sees only its organization's changes.",
  security: READ_SECURITY,
  request: { query: changesQuery },
  responses: {
    ...readAuthResponses,
    200: jsonResponse(
      z.object({
        changes: z.array(Change),
        next: z.number().int().meta({ description: "Pass as `after` for the next page (equal to `after` when nothing new)." }),
        latest_seq: z.number().int().meta({ description: "The newest sequence number recorded so far." }),
      }),
      "A page of changes in sequence order.",
    ),
    400: errorResponses.invalidQuery,
    410: jsonResponse(
      errorBody(["cursor_expired"], { latest_seq: z.number().int(), pruned_through: z.number().int() }),
      "The cursor is older than what retention kept. Resync: read the full listing, then follow the feed from `latest_seq`.",
    ),
  },
});
