import { SCHEMA } from "./resources";
import { findAttribute, USER_PATCH_SCHEMA, type AttributeDef } from "./write/attributes";

/**
 * Discovery resources (RFC 7644 §4, RFC 7643 §5-7): what this read-only server supports, so SCIM
 * clients can configure themselves.
 */

export const MAX_RESULTS = 200;

const READ_TOKEN_AUTHENTICATION = "Authorization: Bearer <token>, a read token (READ_TOKENS) or an admin token (ADMIN_TOKEN).";
/** How a SCIM connection (scim/connections.ts) authenticates, for its own ServiceProviderConfig. */
export const CONNECTION_TOKEN_AUTHENTICATION = "Authorization: Bearer <token>, the connection's token (shown once when the connection is created or its token rotated).";

export function serviceProviderConfig(baseUrl: string, authentication: string = READ_TOKEN_AUTHENTICATION) {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://github.com/directory-sync/directory-sync#scim-20-server-read-only",
    patch: { supported: false },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      { type: "oauthbearertoken", name: "Bearer token", description: authentication, primary: true },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string) {
  return [
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "User",
      name: "User",
      description: "User Account",
      endpoint: "/Users",
      schema: SCHEMA.user,
      schemaExtensions: [{ schema: SCHEMA.enterpriseUser, required: false }],
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "Group",
      name: "Group",
      description: "Group",
      endpoint: "/Groups",
      schema: SCHEMA.group,
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

/**
 * An attribute definition with every characteristic of RFC 7643 §7 spelled out, since clients
 * build models from these documents and some reject a definition that leaves one out: a
 * `reference` without `referenceTypes` (§2.3.7) crashed a widely used Python client. Everything
 * is `readOnly`: this server accepts no writes.
 */
interface Attribute {
  name: string;
  type: "string" | "boolean" | "reference" | "complex";
  description: string;
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  uniqueness?: "none" | "server";
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: Attribute[];
}

const attribute = ({ name, type, description, multiValued = false, required = false, caseExact = false, uniqueness = "none", canonicalValues, referenceTypes, subAttributes }: Attribute): Record<string, unknown> => ({
  name,
  type,
  ...(referenceTypes ? { referenceTypes } : {}),
  multiValued,
  description,
  required,
  caseExact,
  ...(canonicalValues ? { canonicalValues } : {}),
  mutability: "readOnly",
  returned: "default",
  uniqueness,
  ...(subAttributes ? { subAttributes: subAttributes.map(attribute) } : {}),
});

/** What this server serves of RFC 7643 §8.7.1's User, Group and enterprise User schemas. */
const definitions: { id: string; name: string; description: string; attributes: Attribute[] }[] = [
  {
    id: SCHEMA.user,
    name: "User",
    description: "User Account",
    attributes: [
      { name: "userName", type: "string", required: true, uniqueness: "server", description: "Unique identifier for the User: the identity provider's userName, else the primary email, else (once the user's personal data is erased) the SCIM id." },
      { name: "externalId", type: "string", caseExact: true, description: "The user's id at the identity provider." },
      {
        name: "name",
        type: "complex",
        description: "The components of the user's real name.",
        subAttributes: [
          { name: "givenName", type: "string", description: "The given name of the User, or first name in most Western languages." },
          { name: "familyName", type: "string", description: "The family name of the User, or last name in most Western languages." },
        ],
      },
      { name: "displayName", type: "string", description: "The name of the User, suitable for display: given name and family name." },
      { name: "active", type: "boolean", description: "Whether the user is active at the identity provider (false once deleted)." },
      {
        name: "emails",
        type: "complex",
        multiValued: true,
        description: "Email addresses for the user: at most one, the primary work address.",
        subAttributes: [
          { name: "value", type: "string", description: "Email address for the user." },
          { name: "type", type: "string", canonicalValues: ["work", "home", "other"], description: "A label indicating the attribute's function: 'work'." },
          { name: "primary", type: "boolean", description: "Whether this is the primary email address: true." },
        ],
      },
      {
        name: "groups",
        type: "complex",
        multiValued: true,
        description: "The groups the user is a direct member of.",
        subAttributes: [
          { name: "value", type: "string", description: "The id of the Group." },
          { name: "$ref", type: "reference", referenceTypes: ["Group"], description: "The URI of the corresponding Group resource." },
          { name: "display", type: "string", description: "The Group's displayName." },
        ],
      },
    ],
  },
  {
    id: SCHEMA.group,
    name: "Group",
    description: "Group",
    attributes: [
      { name: "displayName", type: "string", description: "A human-readable name for the Group." },
      { name: "externalId", type: "string", caseExact: true, description: "The group's id at the identity provider." },
      {
        name: "members",
        type: "complex",
        multiValued: true,
        description: "The members of the Group.",
        subAttributes: [
          { name: "value", type: "string", description: "The id of the member (a User)." },
          { name: "$ref", type: "reference", referenceTypes: ["User", "Group"], description: "The URI of the member's resource." },
          { name: "type", type: "string", canonicalValues: ["User", "Group"], description: "The type of the member's resource: 'User'." },
        ],
      },
    ],
  },
  {
    id: SCHEMA.enterpriseUser,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: [
      { name: "employeeNumber", type: "string", description: "Identifier assigned to a person, typically based on order of hire." },
      { name: "costCenter", type: "string", description: "Identifies the name of a cost center." },
      { name: "organization", type: "string", description: "Identifies the name of an organization." },
      { name: "division", type: "string", description: "Identifies the name of a division." },
      { name: "department", type: "string", description: "Identifies the name of a department." },
      {
        name: "manager",
        type: "complex",
        description: "The user's manager.",
        subAttributes: [
          { name: "value", type: "string", description: "The id of the manager's User resource." },
          { name: "$ref", type: "reference", referenceTypes: ["User"], description: "The URI of the manager's User resource." },
        ],
      },
    ],
  },
];

export function schemas(baseUrl: string) {
  return definitions.map((definition) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: definition.id,
    name: definition.name,
    description: definition.description,
    attributes: definition.attributes.map(attribute),
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${definition.id}` },
  }));
}

/**
 * A SCIM connection's ServiceProviderConfig (RFC 7643 §5): its Users and Groups take writes
 * (src/http/scim-write.ts), so PATCH is supported; no bulk, no password change.
 */
export function connectionServiceProviderConfig(baseUrl: string) {
  return {
    ...serviceProviderConfig(baseUrl, CONNECTION_TOKEN_AUTHENTICATION),
    documentationUri: "https://github.com/directory-sync/directory-sync#scim-connections",
    patch: { supported: true },
  };
}

/**
 * A SCIM connection's Schemas: the read server's attributes plus every other RFC 7643 User
 * attribute a connection stores (its profile: scim/write/profile.ts), all writable by the identity
 * provider except the server's own (`groups` on a User, set through Groups). Built from the PATCH
 * attribute table (scim/write/attributes.ts), so what is advertised is what a write may name;
 * `x509Certificates` is accepted and not kept, so it is not advertised.
 */
export function connectionSchemas(baseUrl: string) {
  const writable = (attribute: Record<string, unknown>, readOnly: boolean): Record<string, unknown> => ({
    ...attribute,
    mutability: readOnly ? "readOnly" : "readWrite",
    ...(Array.isArray(attribute.subAttributes) ? { subAttributes: (attribute.subAttributes as Record<string, unknown>[]).map((sub) => writable(sub, readOnly)) } : {}),
  });
  return schemas(baseUrl).map((schema) => {
    const served = new Set(schema.attributes.map((attribute) => String(attribute.name).toLowerCase()));
    const stored = schema.id === SCHEMA.user ? USER_PATCH_SCHEMA.attributes.filter((def) => !def.readOnly && !NOT_ADVERTISED.has(def.name) && !served.has(def.name.toLowerCase())) : [];
    return {
      ...schema,
      attributes: [...schema.attributes.map((attribute) => (schema.id === SCHEMA.user ? withStoredSubAttributes(attribute) : attribute)), ...stored.map((def) => profileAttribute(def))].map((attribute) =>
        writable(attribute, schema.id === SCHEMA.user && attribute.name === "groups"),
      ),
    };
  });
}

/** A served complex attribute (name, emails) with the sub-attributes a connection also stores (name.middleName, emails.display, …). */
function withStoredSubAttributes(served: Record<string, unknown>): Record<string, unknown> {
  const def = findAttribute(USER_PATCH_SCHEMA.attributes, String(served.name));
  const subs = served.subAttributes as Record<string, unknown>[] | undefined;
  if (!def?.subAttributes || !subs || def.readOnly) return served;
  const known = new Set(subs.map((sub) => String(sub.name).toLowerCase()));
  const extra = def.subAttributes.filter((sub) => !known.has(sub.name.toLowerCase()));
  return extra.length ? { ...served, subAttributes: [...subs, ...extra.map((sub) => profileAttribute(sub, def.name))] } : served;
}

/** Accepted by a write and not kept (credentials). */
const NOT_ADVERTISED = new Set(["x509Certificates", "password"]);

/** A profile attribute of the PATCH table as a Schemas entry (`parent`: the complex attribute it belongs to). */
function profileAttribute(def: AttributeDef, parent?: string): Record<string, unknown> {
  const type = def.type === "dateTime" || def.type === "binary" ? "string" : def.type;
  return attribute({
    name: def.name,
    type,
    multiValued: def.multiValued ?? false,
    description: parent ? `The ${parent} ${def.name}, stored as sent.` : `RFC 7643 User attribute ${def.name}, stored as the identity provider sends it.`,
    ...(def.subAttributes ? { subAttributes: def.subAttributes.map((sub) => ({ name: sub.name, type: sub.type === "dateTime" || sub.type === "binary" ? "string" : sub.type, description: `The ${def.name} ${sub.name}, stored as sent.` })) } : {}),
  } as Attribute);
}
