import SCIMMY from "scimmy";
import { expect } from "vitest";
import { ADMIN } from "./seed";
import { callApp } from "./worker";

/**
 * Checks what our SCIM server answers against SCIMMY (https://github.com/scimmyjs/scimmy), an
 * independent implementation of RFC 7643/7644, rather than against our own expectations:
 *
 * - resources are coerced through SCIMMY's User (with the enterprise extension) and Group schema
 *   definitions, which throw on a wrong type, a missing required attribute (userName), a
 *   non-canonical value, a reference without a matching reference type or an invalid date; what
 *   survives the coercion must equal what we sent, so an attribute SCIMMY does not know (it drops
 *   those) or a value it had to convert fails too;
 * - list bodies must pass SCIMMY's outbound ListResponse checks (JSON integers for paging);
 * - error bodies must pass SCIMMY's ErrorResponse checks (a valid status and scimType pairing);
 * - discovery documents are coerced through SCIMMY's ServiceProviderConfig and ResourceType
 *   schemas, and every attribute our /Schemas declares is compared with SCIMMY's own definition.
 *
 * `scimRequest` sends a request through the Worker and validates whatever comes back; every test
 * under test/scim/ that reads SCIM responses goes through it.
 */

export const SCIM_BASE = "https://sync.example.com/scim/v2";
export const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

type Json = Record<string, unknown>;
export type ScimList = { schemas: string[]; totalResults: number; startIndex: number; itemsPerPage: number; Resources: Json[] };

// SCIMMY's User schema knows the enterprise extension only once it is declared on it.
if (!SCIMMY.Schemas.User.definition.attributes.some((attribute) => attribute instanceof SCIMMY.Types.SchemaDefinition)) {
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
}

const definitions = {
  User: SCIMMY.Schemas.User.definition,
  Group: SCIMMY.Schemas.Group.definition,
} as const;

/** The JSON SCIMMY would send for this resource: our resource coerced through its schema. */
function coerced(kind: keyof typeof definitions, resource: Json): Json {
  return JSON.parse(JSON.stringify(definitions[kind].coerce(resource, "out"))) as Json;
}

/**
 * One User or Group resource. `partial`: the response was narrowed by attributes or
 * excludedAttributes, so required attributes may be left out (RFC 7644 §3.4.2.5); everything that
 * is present is still checked.
 */
export function expectScimResource(kind: keyof typeof definitions, resource: Json, options: { partial?: boolean } = {}) {
  expect(resource.schemas, "schemas").toEqual(expect.arrayContaining([kind === "User" ? SCIMMY.Schemas.User.id : SCIMMY.Schemas.Group.id]));
  expect(typeof resource.id, "id is returned always").toBe("string");
  // Placeholders stand in for required attributes a projection left out, and are removed again.
  const placeholders: Json = options.partial ? (kind === "User" ? { userName: "placeholder" } : { displayName: "placeholder" }) : {};
  const missing = Object.keys(placeholders).filter((key) => !(key in resource));
  let result: Json;
  try {
    result = coerced(kind, { ...Object.fromEntries(missing.map((key) => [key, placeholders[key]])), ...resource });
  } catch (error) {
    throw new Error(`SCIMMY rejects this ${kind} (${error instanceof Error ? error.message : String(error)}): ${JSON.stringify(resource)}`);
  }
  for (const key of missing) delete result[key];
  // SCIMMY fills meta.resourceType in itself; a resource without meta gets one from it.
  if (!("meta" in resource)) delete result.meta;
  expect(result, `${kind} as SCIMMY coerces it`).toEqual(resource);
}

export function expectListResponse(body: Json): asserts body is ScimList {
  expect(body.schemas).toEqual([LIST]);
  const { totalResults, startIndex, itemsPerPage, Resources } = body as ScimList;
  expect(Array.isArray(Resources), "Resources").toBe(true);
  // Outbound mode: SCIMMY demands number primitives that are integers.
  expect(() => new SCIMMY.Messages.ListResponse(Resources as never[], { totalResults, startIndex, itemsPerPage })).not.toThrow();
  expect(itemsPerPage).toBe(Resources.length);
  expect(startIndex).toBeGreaterThanOrEqual(1);
  expect(totalResults).toBeGreaterThanOrEqual(Resources.length);
}

export function expectScimError(body: Json, status: number, scimType?: string) {
  expect(body.schemas).toEqual([ERROR]);
  expect(body.status).toBe(String(status));
  if (scimType !== undefined) expect(body.scimType).toBe(scimType);
  expect(typeof body.detail).toBe("string");
  // SCIMMY checks the status is one RFC 7644 §3.12 lists and the scimType fits it.
  const cause = { status: Number(body.status), scimType: body.scimType, detail: body.detail } as ConstructorParameters<typeof SCIMMY.Messages.ErrorResponse>[0];
  expect(() => new SCIMMY.Messages.ErrorResponse(cause)).not.toThrow();
}

/** An attribute definition of /Schemas, checked against RFC 7643 §7 and SCIMMY's definition of the same attribute. */
function expectAttributeDefinition(ours: Json, theirs: Json | undefined, path: string) {
  for (const key of ["name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"]) {
    expect(ours, `${path} declares ${key}`).toHaveProperty(key);
  }
  expect(["string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"]).toContain(ours.type);
  expect(["readOnly", "readWrite", "immutable", "writeOnly"]).toContain(ours.mutability);
  expect(["always", "never", "default", "request"]).toContain(ours.returned);
  expect(["none", "server", "global"]).toContain(ours.uniqueness);
  if (ours.type === "reference") {
    // RFC 7643 §2.3.7: a reference names what it may refer to.
    expect(Array.isArray(ours.referenceTypes) && (ours.referenceTypes as unknown[]).length > 0, `${path} declares referenceTypes`).toBe(true);
  }
  if (ours.type === "complex") expect(Array.isArray(ours.subAttributes), `${path} declares subAttributes`).toBe(true);
  expect(theirs, `${path} is an RFC 7643 attribute`).toBeDefined();
  expect({ type: ours.type, multiValued: ours.multiValued, caseExact: ours.caseExact ?? false }, path).toEqual({
    type: theirs!.type,
    multiValued: theirs!.multiValued,
    caseExact: theirs!.caseExact ?? false,
  });
  if (ours.type === "reference") expect(theirs!.referenceTypes, path).toEqual(expect.arrayContaining(ours.referenceTypes as string[]));
  if (ours.canonicalValues) expect(theirs!.canonicalValues, path).toEqual(expect.arrayContaining(ours.canonicalValues as string[]));
  for (const sub of (ours.subAttributes as Json[] | undefined) ?? []) {
    const theirSub = (theirs!.subAttributes as Json[]).find((candidate) => candidate.name === sub.name);
    expectAttributeDefinition(sub, theirSub, `${path}.${String(sub.name)}`);
  }
}

export function expectSchemaDocument(schema: Json) {
  expect(schema.schemas).toEqual(["urn:ietf:params:scim:schemas:core:2.0:Schema"]);
  const theirs = [SCIMMY.Schemas.User, SCIMMY.Schemas.Group, SCIMMY.Schemas.EnterpriseUser].find((candidate) => candidate.id === schema.id);
  expect(theirs, `schema ${String(schema.id)}`).toBeDefined();
  expect(typeof schema.name).toBe("string");
  expect(typeof schema.description).toBe("string");
  // SCIMMY's attribute list, shadowed common attributes (externalId) included, as JSON definitions.
  const known = JSON.parse(JSON.stringify(theirs!.definition.attributes.filter((attribute) => attribute instanceof SCIMMY.Types.Attribute))) as Json[];
  for (const attribute of schema.attributes as Json[]) {
    expectAttributeDefinition(attribute, known.find((candidate) => candidate.name === attribute.name), String(attribute.name));
  }
}

/** Validates a body by what the request asked for; returns it typed loosely for the test to inspect. */
function validate(path: string, status: number, body: Json, partial: boolean) {
  if (status >= 400) return expectScimError(body, status);
  const route = new URL(SCIM_BASE + path).pathname.replace("/scim/v2", "");
  if (route === "/ServiceProviderConfig") {
    expect(() => SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(body, "out")).not.toThrow();
    return;
  }
  const kind = route.startsWith("/Users") ? "User" : route.startsWith("/Groups") ? "Group" : null;
  if (body.schemas && (body.schemas as string[]).includes(LIST)) {
    expectListResponse(body);
    for (const resource of body.Resources) {
      if (kind) expectScimResource(kind, resource, { partial });
      else if (route.startsWith("/Schemas")) expectSchemaDocument(resource);
      else if (route.startsWith("/ResourceTypes")) expect(() => SCIMMY.Schemas.ResourceType.definition.coerce(resource, "out")).not.toThrow();
    }
    return;
  }
  if (kind) expectScimResource(kind, body, { partial });
  else if (route.startsWith("/Schemas")) expectSchemaDocument(body);
  else if (route.startsWith("/ResourceTypes")) expect(() => SCIMMY.Schemas.ResourceType.definition.coerce(body, "out")).not.toThrow();
}

/**
 * A SCIM request through the Worker (admin token unless `headers` says otherwise), its response
 * validated by SCIMMY. A JSON `search` body makes it a POST with application/scim+json.
 */
export async function scimRequest(
  path: string,
  options: { headers?: Record<string, string>; method?: string; search?: unknown; body?: string; env?: Partial<Env> } = {},
): Promise<{ status: number; body: Json; response: Response }> {
  const body = options.search !== undefined ? JSON.stringify(options.search) : options.body;
  const headers = { ...ADMIN, ...(body !== undefined ? { "content-type": "application/scim+json" } : {}), ...options.headers };
  const response = await callApp(new Request(SCIM_BASE + path, { method: options.method ?? (body !== undefined ? "POST" : "GET"), headers, body }), options.env);
  if (response.status === 304) return { status: 304, body: {}, response };
  expect(response.headers.get("content-type"), path).toBe("application/scim+json");
  const parsed = (await response.json()) as Json;
  const query = new URL(SCIM_BASE + path).searchParams;
  const search = (options.search ?? {}) as Json;
  const partial = query.has("attributes") || query.has("excludedAttributes") || "attributes" in search || "excludedAttributes" in search;
  validate(path, response.status, parsed, partial);
  return { status: response.status, body: parsed, response };
}

/** A ListResponse from a request that must succeed. */
export async function scimList(path: string, options: Parameters<typeof scimRequest>[1] = {}): Promise<ScimList> {
  const { status, body } = await scimRequest(path, options);
  expect(status, `${path} ${JSON.stringify(body)}`).toBe(200);
  expectListResponse(body);
  return body;
}

/** A SearchRequest body built (and so validated) by SCIMMY, for POST /.search. */
export function searchRequest(params: { filter?: string; startIndex?: number; count?: number; attributes?: string[]; excludedAttributes?: string[]; sortBy?: string; sortOrder?: "ascending" | "descending" }) {
  return JSON.parse(JSON.stringify(new SCIMMY.Messages.SearchRequest({ schemas: [SEARCH], ...params }))) as Json;
}
