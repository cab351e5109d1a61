import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { sql } from "drizzle-orm";
import * as z from "zod";
import type { GroupRow, UserRow } from "../../directory/read";
import { groups, users } from "../../directory/schema";
import { userAttributes, type DirectoryUser, type UserProfile } from "../../events";
import type { AttributeMap } from "../filter";
import { groupFilterAttributes, SCHEMA, userFilterAttributes } from "../resources";
import { profileOf, scimBoolean } from "./profile";

/**
 * Users and groups of a SCIM connection as the identity provider sees them (RFC 7643 §4.1, §4.2),
 * and the bodies it may send (POST/PUT), mapped to and from the stored rows.
 *
 * Under a connection, a resource's `id` is its server-assigned external_id (a UUID): the
 * connection already names the provider. `externalId` is the client's own (users.scim_external_id).
 * What is stored, and therefore what a write can change: userName, externalId, name.givenName,
 * name.familyName, one email (the primary one, else the work one, else the first), active and
 * flat enterprise-extension attributes (manager as its value) in columns of their own; every other
 * attribute of the User table (displayName, title, phoneNumbers, addresses, all emails, …) in
 * users.profile (profile.ts). x509Certificates and attributes outside the table are accepted and
 * not kept; responses show the stored state. Where the profile has no displayName or emails (a
 * client that never sent them, a user stored before profiles existed), they are derived from the
 * columns. Groups keep displayName, externalId (groups.scim_external_id) and members.
 */

type Json = Record<string, unknown>;

const text = z.string().max(1024);

export const userBody = z.looseObject({
  schemas: z.array(z.string().max(256)).max(10).optional(),
  userName: z.string().trim().min(1).max(1024),
  externalId: text.nullish(),
  name: z.looseObject({ givenName: text.nullish(), familyName: text.nullish() }).nullish(),
  emails: z
    .array(z.looseObject({ value: text.nullish(), type: z.string().max(64).nullish(), primary: scimBoolean.nullish() }))
    .max(50)
    .nullish(),
  active: scimBoolean.nullish(),
  [SCHEMA.enterpriseUser]: z.record(z.string().max(128), z.unknown()).nullish(),
});
export type UserBody = z.infer<typeof userBody>;

export const groupBody = z.looseObject({
  schemas: z.array(z.string().max(256)).max(10).optional(),
  displayName: z.string().trim().min(1).max(1024),
  externalId: text.nullish(),
  members: z.array(z.looseObject({ value: z.string().min(1).max(256) })).max(10_000).nullish(),
});
export type GroupBody = z.infer<typeof groupBody>;

export type UserFields = Omit<DirectoryUser, "externalId" | "organizationId" | "directoryId">;

/**
 * The stored fields of a user from a full representation (a POST/PUT body or a patched resource).
 * `derived`: a PATCH's derivedAttributes of the user it started from (see profileOf).
 */
export function userFields(resource: Json, derived: Json = {}): { ok: true; user: UserFields } | { ok: false; detail: string } {
  const parsed = userBody.safeParse(resource);
  if (!parsed.success) return { ok: false, detail: `the User is invalid at ${parsed.error.issues[0]?.path.join(".") || "its root"}` };
  const profile = profileOf(resource, derived);
  if (!profile.ok) return profile;
  const body = parsed.data;
  const emails = (body.emails ?? []).filter((email) => typeof email.value === "string" && email.value !== "");
  const email = (emails.find((e) => e.primary === true) ?? emails.find((e) => e.type === "work") ?? emails[0])?.value ?? null;
  const enterprise = body[SCHEMA.enterpriseUser];
  let attributes: Record<string, string | number | boolean | null> | null = null;
  if (enterprise) {
    attributes = {};
    for (const [key, value] of Object.entries(enterprise)) {
      if (key === "manager") {
        const managerId = value && typeof value === "object" ? (value as { value?: unknown }).value : value;
        if (typeof managerId === "string" && managerId !== "") attributes.manager = managerId;
      } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        attributes[key] = value;
      }
    }
    const checked = userAttributes.safeParse(attributes);
    if (!checked.success) return { ok: false, detail: "the enterprise extension is too large or has too many attributes" };
    if (Object.keys(attributes).length === 0) attributes = null;
  }
  return {
    ok: true,
    user: {
      userName: body.userName,
      scimExternalId: body.externalId ?? null,
      email,
      firstName: body.name?.givenName ?? null,
      lastName: body.name?.familyName ?? null,
      active: body.active ?? true,
      attributes,
      providerRoles: null,
      profile: profile.profile,
    },
  };
}

/** What connectionUser shows that the profile does not hold: derived from the columns. */
export function derivedAttributes(row: UserRow): Json {
  const profile = (row.profile ?? {}) as UserProfile;
  const derived: Json = {};
  const displayName = [row.firstName, row.lastName].filter(Boolean).join(" ");
  if (profile.displayName === undefined && displayName) derived.displayName = displayName;
  if (profile.emails === undefined && row.email) derived.emails = [{ value: row.email, type: "work", primary: true }];
  return derived;
}

export function connectionUser(row: UserRow, memberOf: { groupExternalId: string; groupName: string | null }[], baseUrl: string): Json {
  const attributes = (row.attributes ?? null) as Record<string, unknown> | null;
  const enterprise = attributes ? Object.fromEntries(Object.entries(attributes).map(([key, value]) => (key === "manager" ? [key, { value }] : [key, value]))) : null;
  // Stored only by profile.ts, canonical and within the User table.
  const profile = (row.profile ?? {}) as Json;
  const derived = derivedAttributes(row);
  const columnsName = row.firstName || row.lastName ? { givenName: row.firstName ?? undefined, familyName: row.lastName ?? undefined } : {};
  const name = dropUndefined({ ...columnsName, ...(profile.name as Json | undefined) });
  // Key order is the representation's (and its ETag's): a user without a profile reads exactly as before profiles existed.
  return withVersion(
    dropUndefined({
      schemas: enterprise ? [SCHEMA.user, SCHEMA.enterpriseUser] : [SCHEMA.user],
      id: row.externalId,
      externalId: row.scimExternalId ?? undefined,
      userName: row.userName ?? row.email ?? row.externalId,
      name: Object.keys(name).length ? name : undefined,
      displayName: profile.displayName ?? derived.displayName,
      nickName: profile.nickName,
      profileUrl: profile.profileUrl,
      title: profile.title,
      userType: profile.userType,
      preferredLanguage: profile.preferredLanguage,
      locale: profile.locale,
      timezone: profile.timezone,
      active: row.active && row.deletedAt === null,
      emails: profile.emails ?? derived.emails,
      phoneNumbers: profile.phoneNumbers,
      ims: profile.ims,
      photos: profile.photos,
      addresses: profile.addresses,
      entitlements: profile.entitlements,
      roles: profile.roles,
      groups: memberOf.length
        ? memberOf.map((group) => dropUndefined({ value: group.groupExternalId, display: group.groupName ?? undefined, $ref: `${baseUrl}/Groups/${encodeURIComponent(group.groupExternalId)}` }))
        : undefined,
      [SCHEMA.enterpriseUser]: enterprise ?? undefined,
      meta: { resourceType: "User", created: iso(row.createdAt), lastModified: iso(row.updatedAt), location: `${baseUrl}/Users/${encodeURIComponent(row.externalId)}` },
    }),
  );
}

export function connectionGroup(row: GroupRow, memberIds: string[], baseUrl: string): Json {
  return withVersion(
    dropUndefined({
      schemas: [SCHEMA.group],
      id: row.externalId,
      externalId: row.scimExternalId ?? undefined,
      displayName: row.name ?? undefined,
      members: [...memberIds].sort().map((userId) => ({ value: userId, type: "User", $ref: `${baseUrl}/Users/${encodeURIComponent(userId)}` })),
      meta: { resourceType: "Group", created: iso(row.createdAt), lastModified: iso(row.updatedAt), location: `${baseUrl}/Groups/${encodeURIComponent(row.externalId)}` },
    }),
  );
}

/** A weak ETag over the whole representation (memberships included): it changes exactly when what a client reads changes. */
function withVersion(resource: Json): Json {
  const version = `W/"${bytesToHex(sha256(utf8ToBytes(JSON.stringify(resource)))).slice(0, 32)}"`;
  return { ...resource, meta: { ...(resource.meta as Json), version } };
}

export const etagOf = (resource: Json) => (resource.meta as { version: string }).version;

/** If-Match (RFC 7644 §3.14): absent, `*`, or one of the listed tags equal to the current one (weakly). */
export function ifMatchHolds(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const weak = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim() === "*" || weak(tag) === weak(current));
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());
const dropUndefined = (resource: Json): Json => Object.fromEntries(Object.entries(resource).filter(([, value]) => value !== undefined));

/** Filter attributes under a connection: `id` is the external_id, `externalId` the client's own. */
function override(base: AttributeMap, core: string, entries: AttributeMap): AttributeMap {
  const urn = core.toLowerCase();
  const result: AttributeMap = { ...base };
  for (const [name, attribute] of Object.entries(entries)) {
    result[name] = attribute;
    result[`${urn}:${name}`] = attribute;
  }
  return result;
}

export const connectionUserFilterAttributes = override(userFilterAttributes, SCHEMA.user, {
  id: { kind: "caseExactString", expression: sql`${users.externalId}` },
  externalid: { kind: "caseExactString", expression: sql`${users.scimExternalId}` },
});

export const connectionGroupFilterAttributes = override(groupFilterAttributes, SCHEMA.group, {
  id: { kind: "caseExactString", expression: sql`${groups.externalId}` },
  externalid: { kind: "caseExactString", expression: sql`${groups.scimExternalId}` },
});
