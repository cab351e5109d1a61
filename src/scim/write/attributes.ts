import { SCHEMA } from "../resources";

/**
 * The attributes a SCIM PATCH may name, per resource type (RFC 7643 §4.1 User, §4.2 Group, §4.3
 * enterprise extension, §3.1 common attributes). A path or a value key outside this table is an
 * unknown attribute (400 invalidPath), so nothing a client sends becomes an object key unless it
 * is listed here: that is also what keeps `__proto__` and friends out of the resource.
 *
 * Deliberately absent: `password` (this service stores no credentials) and custom extensions.
 */

export type AttributeType = "string" | "boolean" | "complex" | "reference" | "dateTime" | "binary";

export interface AttributeDef {
  /** Canonical spelling: attribute names are case-insensitive on input (RFC 7643 §2.1). */
  readonly name: string;
  readonly type: AttributeType;
  readonly multiValued?: boolean;
  /** A patch that leaves it unassigned is refused with `mutability` (RFC 7644 §3.5.2.2). */
  readonly required?: boolean;
  /** Server-owned: a patch may repeat the current value (Okta echoes `id`) but never change it. */
  readonly readOnly?: boolean;
  readonly subAttributes?: readonly AttributeDef[];
}

export interface ResourceSchema {
  readonly resourceType: "User" | "Group";
  readonly core: string;
  readonly attributes: readonly AttributeDef[];
  readonly extensions: readonly { readonly urn: string; readonly attributes: readonly AttributeDef[] }[];
}

const text = (name: string, extra: Partial<AttributeDef> = {}): AttributeDef => ({ name, type: "string", ...extra });

/** emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates (RFC 7643 §4.1.2). */
const multiValued = (name: string, valueType: AttributeType = "string"): AttributeDef => ({
  name,
  type: "complex",
  multiValued: true,
  subAttributes: [{ name: "value", type: valueType }, text("display"), text("type"), { name: "primary", type: "boolean" }],
});

const COMMON: readonly AttributeDef[] = [
  text("id", { readOnly: true }),
  text("externalId"),
  { name: "schemas", type: "reference", multiValued: true, readOnly: true },
  {
    name: "meta",
    type: "complex",
    readOnly: true,
    subAttributes: [text("resourceType"), { name: "created", type: "dateTime" }, { name: "lastModified", type: "dateTime" }, { name: "location", type: "reference" }, text("version")],
  },
];

export const USER_PATCH_SCHEMA: ResourceSchema = {
  resourceType: "User",
  core: SCHEMA.user,
  attributes: [
    ...COMMON,
    text("userName", { required: true }),
    {
      name: "name",
      type: "complex",
      subAttributes: ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"].map((name) => text(name)),
    },
    text("displayName"),
    text("nickName"),
    { name: "profileUrl", type: "reference" },
    text("title"),
    text("userType"),
    text("preferredLanguage"),
    text("locale"),
    text("timezone"),
    { name: "active", type: "boolean" },
    multiValued("emails"),
    multiValued("phoneNumbers"),
    multiValued("ims"),
    multiValued("photos", "reference"),
    {
      name: "addresses",
      type: "complex",
      multiValued: true,
      subAttributes: [...["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"].map((name) => text(name)), { name: "primary", type: "boolean" }],
    },
    {
      name: "groups",
      type: "complex",
      multiValued: true,
      readOnly: true,
      subAttributes: [text("value"), { name: "$ref", type: "reference" }, text("display"), text("type")],
    },
    multiValued("entitlements"),
    multiValued("roles"),
    multiValued("x509Certificates", "binary"),
  ],
  extensions: [
    {
      urn: SCHEMA.enterpriseUser,
      attributes: [
        text("employeeNumber"),
        text("costCenter"),
        text("organization"),
        text("division"),
        text("department"),
        { name: "manager", type: "complex", subAttributes: [text("value"), { name: "$ref", type: "reference" }, text("displayName")] },
      ],
    },
  ],
};

export const GROUP_PATCH_SCHEMA: ResourceSchema = {
  resourceType: "Group",
  core: SCHEMA.group,
  attributes: [
    ...COMMON,
    text("displayName", { required: true }),
    {
      name: "members",
      type: "complex",
      multiValued: true,
      // RFC 7643 §4.2 marks display readOnly, but Okta sends it on every member add: accepted.
      subAttributes: [text("value"), { name: "$ref", type: "reference" }, text("display"), text("type")],
    },
  ],
  extensions: [],
};

/** Case-insensitive lookup by name, own entries only. */
export function findAttribute(attributes: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return attributes?.find((attribute) => attribute.name.toLowerCase() === lower);
}
