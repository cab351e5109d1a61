import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { sql } from "drizzle-orm";
import { groups, users } from "../directory/schema";
import type { GroupRow, UserRow } from "../directory/read";
import type { AttributeMap } from "./filter";

/** Rows of the synced directory as SCIM 2.0 resources (RFC 7643 §4). */

export const SCHEMA = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  enterpriseUser: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  listResponse: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  searchRequest: "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
} as const;

/** The schemas of each resource type, for attribute paths (projection.ts). */
export const USER_SCHEMAS = { core: SCHEMA.user, extensions: [SCHEMA.enterpriseUser] } as const;
export const GROUP_SCHEMAS = { core: SCHEMA.group, extensions: [] } as const;

/** A SCIM id names the provider too: external ids are only unique within one provider. */
export const scimId = (row: { provider: string; externalId: string }) => `${row.provider}:${row.externalId}`;

export function parseScimId(id: string): { provider: string; externalId: string } | null {
  const colon = id.indexOf(":");
  return colon > 0 && colon < id.length - 1 ? { provider: id.slice(0, colon), externalId: id.slice(colon + 1) } : null;
}

/**
 * Case-insensitive attributes filter on the folded key columns (directory/fold.ts), which the
 * writes store next to each value. userName falls back to the email for providers (like Scalekit)
 * that send none, then to the SCIM id (a forgotten user has neither), as toScimUser shows it. The
 * id is folded with lower(), which is foldCase for the ASCII ids providers issue.
 */
const userNameKeySql = sql`coalesce(${users.userNameKey}, ${users.emailKey}, lower(${users.provider} || ':' || ${users.externalId}))`;

/**
 * Each attribute also under its full path in the resource's own core schema (RFC 7644 §3.10:
 * `urn:ietf:params:scim:schemas:core:2.0:User:userName`), and under no other schema's: a Group
 * URN path on /Users is an unknown attribute, not a lucky match on its last segment.
 */
function withCoreSchemaPaths(coreSchema: string, attributes: AttributeMap): AttributeMap {
  const urn = coreSchema.toLowerCase();
  return { ...attributes, ...Object.fromEntries(Object.entries(attributes).map(([name, attribute]) => [`${urn}:${name}`, attribute])) };
}

export const userFilterAttributes: AttributeMap = withCoreSchemaPaths(SCHEMA.user, {
  id: { kind: "caseExactString", expression: sql`(${users.provider} || ':' || ${users.externalId})` },
  username: { kind: "string", expression: userNameKeySql },
  externalid: { kind: "caseExactString", expression: sql`${users.externalId}` },
  active: { kind: "boolean", expression: sql`${users.active}` },
  emails: { kind: "string", expression: sql`${users.emailKey}` },
  "emails.value": { kind: "string", expression: sql`${users.emailKey}` },
  // A user has at most one email, served as type "work" (toScimUser): Entra ID looks users up by
  // emails[type eq "work"].value.
  "emails.type": { kind: "string", expression: sql`(CASE WHEN ${users.emailKey} IS NOT NULL THEN 'work' END)` },
  "name.givenname": { kind: "string", expression: sql`${users.firstNameKey}` },
  "name.familyname": { kind: "string", expression: sql`${users.lastNameKey}` },
  // foldCase works letter by letter, so the folded display name is the folded parts joined.
  displayname: { kind: "string", expression: sql`trim(coalesce(${users.firstNameKey}, '') || ' ' || coalesce(${users.lastNameKey}, ''))` },
  "meta.lastmodified": { kind: "dateTime", expression: sql`${users.updatedAt}` },
  "meta.created": { kind: "dateTime", expression: sql`${users.createdAt}` },
});

export const groupFilterAttributes: AttributeMap = withCoreSchemaPaths(SCHEMA.group, {
  id: { kind: "caseExactString", expression: sql`(${groups.provider} || ':' || ${groups.externalId})` },
  displayname: { kind: "string", expression: sql`${groups.nameKey}` },
  externalid: { kind: "caseExactString", expression: sql`${groups.externalId}` },
  "meta.lastmodified": { kind: "dateTime", expression: sql`${groups.updatedAt}` },
  "meta.created": { kind: "dateTime", expression: sql`${groups.createdAt}` },
});

type Json = Record<string, unknown>;

export function toScimUser(row: UserRow, memberOf: { groupExternalId: string; groupName: string | null }[], baseUrl: string): Json {
  const id = scimId(row);
  const attributes = (row.attributes ?? null) as Record<string, string> | null;
  const enterprise = attributes
    ? Object.fromEntries(
        Object.entries(attributes).map(([key, value]) => (key === "manager" ? [key, { value }] : [key, value])),
      )
    : null;
  const resource: Json = {
    schemas: enterprise ? [SCHEMA.user, SCHEMA.enterpriseUser] : [SCHEMA.user],
    id,
    externalId: row.externalId,
    // RFC 7643 §4.1.1 requires a userName. A forgotten user has no personal data left: the id stands in.
    userName: row.userName ?? row.email ?? id,
    name: row.firstName || row.lastName ? { givenName: row.firstName ?? undefined, familyName: row.lastName ?? undefined } : undefined,
    displayName: [row.firstName, row.lastName].filter(Boolean).join(" ") || undefined,
    active: row.active && row.deletedAt === null,
    emails: row.email ? [{ value: row.email, type: "work", primary: true }] : undefined,
    groups: memberOf.length
      ? memberOf.map((group) => ({ value: scimId({ provider: row.provider, externalId: group.groupExternalId }), display: group.groupName ?? undefined, $ref: `${baseUrl}/Groups/${encodeURIComponent(scimId({ provider: row.provider, externalId: group.groupExternalId }))}` }))
      : undefined,
    [SCHEMA.enterpriseUser]: enterprise ?? undefined,
    meta: { resourceType: "User", created: iso(row.createdAt), lastModified: iso(row.updatedAt), location: `${baseUrl}/Users/${encodeURIComponent(id)}` },
  };
  return withVersion(dropUndefined(resource));
}

export function toScimGroup(row: GroupRow, memberIds: string[], baseUrl: string): Json {
  const id = scimId(row);
  const resource: Json = {
    schemas: [SCHEMA.group],
    id,
    externalId: row.externalId,
    displayName: row.name ?? undefined,
    members: memberIds.map((userExternalId) => {
      const memberId = scimId({ provider: row.provider, externalId: userExternalId });
      return { value: memberId, type: "User", $ref: `${baseUrl}/Users/${encodeURIComponent(memberId)}` };
    }),
    meta: { resourceType: "Group", created: iso(row.createdAt), lastModified: iso(row.updatedAt), location: `${baseUrl}/Groups/${encodeURIComponent(id)}` },
  };
  return withVersion(dropUndefined(resource));
}

/**
 * meta.version is a weak ETag over the whole representation (memberships included), so it
 * changes exactly when what a client would read changes.
 */
function withVersion(resource: Json): Json {
  const version = `W/"${bytesToHex(sha256(utf8ToBytes(JSON.stringify(resource)))).slice(0, 32)}"`;
  return { ...resource, meta: { ...(resource.meta as Json), version } };
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

function dropUndefined(resource: Json): Json {
  return Object.fromEntries(Object.entries(resource).filter(([, value]) => value !== undefined));
}
