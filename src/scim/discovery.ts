import { SCHEMA } from "./resources";

/**
 * Discovery resources (RFC 7644 §4, RFC 7643 §5-7): what this read-only server supports, so SCIM
 * clients can configure themselves.
 */

export const MAX_RESULTS = 200;

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://github.com/directory-sync/directory-sync#scim-20-server-read-only",
    patch: { supported: false },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      { type: "oauthbearertoken", name: "Bearer token", description: "Authorization: Bearer <ADMIN_TOKEN>", primary: true },
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
      endpoint: "/Users",
      schema: SCHEMA.user,
      schemaExtensions: [{ schema: SCHEMA.enterpriseUser, required: false }],
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      schema: SCHEMA.group,
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

type Attribute = { name: string; type: string; multiValued?: boolean; caseExact?: boolean; subAttributes?: Attribute[]; uniqueness?: string };

const attribute = ({ name, type, multiValued = false, caseExact = false, subAttributes, uniqueness = "none" }: Attribute): Record<string, unknown> => ({
  name,
  type,
  multiValued,
  required: false,
  caseExact,
  mutability: "readOnly",
  returned: "default",
  uniqueness,
  ...(subAttributes ? { subAttributes: subAttributes.map(attribute) } : {}),
});

const definitions = [
  {
    id: SCHEMA.user,
    name: "User",
    description: "User Account",
    attributes: [
      { name: "userName", type: "string", uniqueness: "server" },
      { name: "externalId", type: "string", caseExact: true },
      { name: "name", type: "complex", subAttributes: [{ name: "givenName", type: "string" }, { name: "familyName", type: "string" }] },
      { name: "displayName", type: "string" },
      { name: "active", type: "boolean" },
      { name: "emails", type: "complex", multiValued: true, subAttributes: [{ name: "value", type: "string" }, { name: "type", type: "string" }, { name: "primary", type: "boolean" }] },
      { name: "groups", type: "complex", multiValued: true, subAttributes: [{ name: "value", type: "string" }, { name: "display", type: "string" }, { name: "$ref", type: "reference" }] },
    ],
  },
  {
    id: SCHEMA.group,
    name: "Group",
    description: "Group",
    attributes: [
      { name: "displayName", type: "string" },
      { name: "externalId", type: "string", caseExact: true },
      { name: "members", type: "complex", multiValued: true, subAttributes: [{ name: "value", type: "string" }, { name: "type", type: "string" }, { name: "$ref", type: "reference" }] },
    ],
  },
  {
    id: SCHEMA.enterpriseUser,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: [
      { name: "employeeNumber", type: "string" },
      { name: "costCenter", type: "string" },
      { name: "organization", type: "string" },
      { name: "division", type: "string" },
      { name: "department", type: "string" },
      { name: "manager", type: "complex", subAttributes: [{ name: "value", type: "string" }] },
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
