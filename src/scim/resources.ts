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
} as const;

/** A SCIM id names the provider too: external ids are only unique within one provider. */
export const scimId = (row: { provider: string; externalId: string }) => `${row.provider}:${row.externalId}`;

export function parseScimId(id: string): { provider: string; externalId: string } | null {
  const colon = id.indexOf(":");
  return colon > 0 && colon < id.length - 1 ? { provider: id.slice(0, colon), externalId: id.slice(colon + 1) } : null;
}

/**
 * Case-insensitive attributes filter on the folded key columns (directory/fold.ts), which the
 * writes store next to each value. userName falls back to the email for providers (like Scalekit)
 * that send none, as toScimUser shows it.
 */
const userNameKeySql = sql`coalesce(${users.userNameKey}, ${users.emailKey})`;

export const userFilterAttributes: AttributeMap = {
  id: { kind: "caseExactString", expression: sql`(${users.provider} || ':' || ${users.externalId})` },
  username: { kind: "string", expression: userNameKeySql },
  externalid: { kind: "caseExactString", expression: sql`${users.externalId}` },
  active: { kind: "boolean", expression: sql`${users.active}` },
  emails: { kind: "string", expression: sql`${users.emailKey}` },
  "emails.value": { kind: "string", expression: sql`${users.emailKey}` },
  "name.givenname": { kind: "string", expression: sql`${users.firstNameKey}` },
  "name.familyname": { kind: "string", expression: sql`${users.lastNameKey}` },
  // foldCase works letter by letter, so the folded display name is the folded parts joined.
  displayname: { kind: "string", expression: sql`trim(coalesce(${users.firstNameKey}, '') || ' ' || coalesce(${users.lastNameKey}, ''))` },
  "meta.lastmodified": { kind: "dateTime", expression: sql`${users.updatedAt}` },
  "meta.created": { kind: "dateTime", expression: sql`${users.createdAt}` },
};

export const groupFilterAttributes: AttributeMap = {
  id: { kind: "caseExactString", expression: sql`(${groups.provider} || ':' || ${groups.externalId})` },
  displayname: { kind: "string", expression: sql`${groups.nameKey}` },
  externalid: { kind: "caseExactString", expression: sql`${groups.externalId}` },
  "meta.lastmodified": { kind: "dateTime", expression: sql`${groups.updatedAt}` },
  "meta.created": { kind: "dateTime", expression: sql`${groups.createdAt}` },
};

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
    userName: row.userName ?? row.email ?? undefined,
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

/**
 * RFC 7644 §3.4.2.5: `attributes` returns only the named attributes (sub-attributes allowed,
 * e.g. name.givenName), `excludedAttributes` removes them; `id` and `schemas` always stay.
 */
export function project(resource: Json, attributes: string[] | null, excluded: string[] | null): Json {
  const always = new Set(["id", "schemas"]);
  const normalize = (list: string[]) => list.map((name) => name.trim()).filter(Boolean).map((name) => stripUrn(name, resource));
  if (attributes) {
    const wanted = normalize(attributes);
    const result: Json = {};
    for (const [key, value] of Object.entries(resource)) {
      const lower = key.toLowerCase();
      if (always.has(key) || wanted.some((name) => name.toLowerCase() === lower)) result[key] = value;
      else {
        const subs = wanted.filter((name) => name.toLowerCase().startsWith(`${lower}.`)).map((name) => name.slice(key.length + 1).toLowerCase());
        if (subs.length && value && typeof value === "object") result[key] = pickSubAttributes(value, subs);
      }
    }
    return result;
  }
  if (excluded) {
    const unwanted = normalize(excluded).map((name) => name.toLowerCase());
    return Object.fromEntries(Object.entries(resource).filter(([key]) => always.has(key) || !unwanted.includes(key.toLowerCase())));
  }
  return resource;
}

function pickSubAttributes(value: object, subs: string[]): unknown {
  const pick = (item: object) => Object.fromEntries(Object.entries(item).filter(([key]) => subs.includes(key.toLowerCase())));
  return Array.isArray(value) ? value.map(pick) : pick(value);
}

/** `urn:…:core:2.0:User:name.givenName` → `name.givenName`; extension attributes keep their urn. */
function stripUrn(name: string, resource: Json): string {
  for (const schema of (resource.schemas as string[]) ?? []) {
    if (name.toLowerCase().startsWith(`${schema.toLowerCase()}:`) && schema !== SCHEMA.enterpriseUser) return name.slice(schema.length + 1);
  }
  return name;
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

function dropUndefined(resource: Json): Json {
  return Object.fromEntries(Object.entries(resource).filter(([, value]) => value !== undefined));
}
