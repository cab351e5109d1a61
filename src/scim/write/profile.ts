import * as z from "zod";
import { userProfile, type UserProfile } from "../../events";
import { findAttribute, USER_PATCH_SCHEMA, type AttributeDef } from "./attributes";

/**
 * The part of a connection user that has no column of its own (users.profile): every attribute of
 * RFC 7643 §4.1 a client may set, except those stored elsewhere (userName, externalId, active,
 * name.givenName, name.familyName; the enterprise extension in `attributes`) and the server's own
 * (id, meta, schemas, groups). Every email is kept here too, while `email` holds the chosen one.
 *
 * Deliberately not kept: x509Certificates (credentials, like the password this service never
 * stores, and large enough to crowd out the rest). Attributes outside the table (attributes.ts)
 * are not kept either, so no key a client invents, `__proto__` included, reaches the stored JSON.
 *
 * The profile is canonical, in the table's order with unassigned values (null, "", [], {}) left
 * out, so the same resource always stores the same text: a resent PUT compares equal and writes
 * nothing, and the change feed's `profile` change means a real one.
 */

/** The top-level attributes kept in the profile, in the table's (and the representation's) order. */
export const PROFILE_ATTRIBUTES = [
  "name",
  "displayName",
  "nickName",
  "profileUrl",
  "title",
  "userType",
  "preferredLanguage",
  "locale",
  "timezone",
  "emails",
  "phoneNumbers",
  "ims",
  "photos",
  "addresses",
  "entitlements",
  "roles",
] as const;

/** name.givenName and name.familyName have columns (first_name, last_name). */
const NAME_IN_COLUMNS = new Set(["givenName", "familyName"]);

/** Per-value bounds; the whole profile is bounded by MAX_PROFILE_JSON_BYTES (events.ts). */
const MAX_STRING_LENGTH = 2048;
const MAX_VALUES = 50;

/** SCIM booleans; Entra without aadOptscim062020 sends "True"/"False". */
export const scimBoolean = z.union([z.boolean(), z.enum(["True", "False", "true", "false"]).transform((value) => value.toLowerCase() === "true")]);

const definitions: AttributeDef[] = PROFILE_ATTRIBUTES.map((name) => {
  const definition = findAttribute(USER_PATCH_SCHEMA.attributes, name);
  if (!definition) throw new Error(`${name} is not in the User attribute table`);
  return name === "name" ? { ...definition, subAttributes: definition.subAttributes?.filter((sub) => !NAME_IN_COLUMNS.has(sub.name)) } : definition;
});

/** One value of an attribute: a string, a boolean, or an object of its sub-attributes (others stripped). */
function valueSchema(definition: AttributeDef): z.ZodType {
  if (definition.type === "boolean") return scimBoolean;
  if (definition.type !== "complex") return z.string().max(MAX_STRING_LENGTH);
  return z.object(Object.fromEntries((definition.subAttributes ?? []).map((sub) => [sub.name, valueSchema(sub).nullish()])));
}

const profileBody = z.object(
  Object.fromEntries(
    definitions.map((definition) => [definition.name, (definition.multiValued ? z.array(valueSchema(definition)).max(MAX_VALUES) : valueSchema(definition)).nullish()]),
  ),
);

type Json = Record<string, unknown>;

/**
 * The stored profile of a full User representation (a POST/PUT body or a patched resource), or
 * null when it has none of these attributes. `derived`: what the representation showed without
 * the profile storing it (derivedAttributes); a resource that still has exactly that value does
 * not make it stored, so a PATCH that leaves the displayName alone keeps it following the name.
 */
export function profileOf(resource: Json, derived: Json = {}): { ok: true; profile: UserProfile | null } | { ok: false; detail: string } {
  const parsed = profileBody.safeParse(resource);
  if (!parsed.success) return { ok: false, detail: `the User is invalid at ${parsed.error.issues[0]?.path.join(".") || "its root"}` };
  const profile: Json = {};
  for (const definition of definitions) {
    const value = canonical(definition, parsed.data[definition.name]);
    if (value === undefined) continue;
    if (definition.name in derived && JSON.stringify(value) === JSON.stringify(derived[definition.name])) continue;
    profile[definition.name] = value;
  }
  if (Object.keys(profile).length === 0) return { ok: true, profile: null };
  const checked = userProfile.safeParse(profile);
  if (!checked.success) return { ok: false, detail: "the User's attributes are too large to store" };
  return { ok: true, profile: checked.data };
}

/** The value in the table's order, without unassigned parts; undefined when nothing is left. */
function canonical(definition: AttributeDef, value: unknown): unknown {
  if (value === null || value === undefined || value === "") return undefined;
  if (definition.multiValued && Array.isArray(value)) {
    const values = value.map((item) => canonical({ ...definition, multiValued: false }, item)).filter((item) => item !== undefined);
    return values.length ? values : undefined;
  }
  if (definition.type !== "complex") return value;
  const result: Json = {};
  for (const sub of definition.subAttributes ?? []) {
    const subValue = canonical(sub, (value as Json)[sub.name]);
    if (subValue !== undefined) result[sub.name] = subValue;
  }
  return Object.keys(result).length ? result : undefined;
}
