import * as z from "zod";
import { findAttribute, type AttributeDef, type ResourceSchema } from "./attributes";
import { isFailure, patchFailure, truncate, type PatchFailure } from "./failure";
import { parsePath, pathOf, type AttributeTarget, type Target } from "./patch-path";

/**
 * A PatchOp body as the real clients send it → operations in RFC 7644 form, one attribute each,
 * with canonical names and typed values. What the clients do differently:
 *
 * - Entra ID without `aadOptscim062020` capitalizes `op` ("Replace"), sends booleans as strings
 *   ("False"), and removes group members with `"path": "members", "value": [{"value": id}]`;
 *   its member values carry `"$ref": null`.
 * - Entra ID with the flag (and Okta) send a path-less replace whose value has dotted keys
 *   (`"name.givenName"`) and extension-URN keys (`"urn:…:enterprise:2.0:User:employeeNumber"`).
 * - Entra's tutorial adds a manager with `"path": "manager"` and a one-element array; older Entra
 *   jobs send the manager as a bare id string.
 * - Entra's attribute table spells sub-attributes loosely (`emails[type eq "other"].Value`).
 * - Okta deactivates with a path-less `{"active": false}` and renames a group with a path-less
 *   `{"id": …, "displayName": …}` (the id is the current one; the applier checks it).
 *
 * Every path-less value is split into one operation per key, so every operation names exactly
 * one attribute of the table (attributes.ts) and nothing else reaches the resource.
 */

export type PatchOpName = "add" | "replace" | "remove";

export interface NormalizedOperation {
  op: PatchOpName;
  target: AttributeTarget;
  /** Absent for a plain remove; for a remove, the values to remove (Entra's member removal). */
  value?: unknown;
}

export const PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const MAX_OPERATIONS = 1000;
export const MAX_PATH_LENGTH = 1000;
export const MAX_STRING_LENGTH = 16_384;
/** Enough for a full Okta member push of ~30,000 `{value, display}` members. */
export const MAX_VALUE_NODES = 100_000;
const MAX_VALUE_DEPTH = 8;

const envelope = z
  .object({
    schemas: z.array(z.string().max(200)).max(8).refine((schemas) => schemas.includes(PATCH_OP_SCHEMA), `must include "${PATCH_OP_SCHEMA}"`),
    Operations: z
      .array(z.object({ op: z.string().max(32), path: z.string().max(MAX_PATH_LENGTH).optional(), value: z.unknown().optional() }))
      .min(1)
      .max(MAX_OPERATIONS),
  })
  .superRefine((body, context) => {
    const budget = { nodes: 0 };
    body.Operations.forEach((operation, index) => {
      const problem = measure(operation.value, 0, budget);
      if (problem) context.addIssue({ code: "custom", path: ["Operations", index, "value"], message: problem });
    });
  });

export function normalizePatch(body: unknown, schema: ResourceSchema): { ok: true; operations: NormalizedOperation[] } | PatchFailure {
  const parsed = envelope.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    return patchFailure("invalidSyntax", `not a PatchOp message: ${where}: ${issue?.message ?? "invalid"}`);
  }
  const operations: NormalizedOperation[] = [];
  for (const [index, raw] of parsed.data.Operations.entries()) {
    const op = raw.op.toLowerCase();
    if (op !== "add" && op !== "replace" && op !== "remove") return patchFailure("invalidSyntax", `Operations.${index}.op must be add, replace or remove`);
    const expanded = expandOperation(op, raw.path || undefined, raw.value, schema);
    if (isFailure(expanded)) return { ...expanded, detail: `Operations.${index}: ${expanded.detail}` };
    operations.push(...expanded);
  }
  return { ok: true, operations };
}

function expandOperation(op: PatchOpName, path: string | undefined, value: unknown, schema: ResourceSchema): NormalizedOperation[] | PatchFailure {
  if (path !== undefined) {
    const target = parsePath(path, schema);
    return isFailure(target) ? target : expand(op, target, value, schema);
  }
  // RFC 7644 §3.5.2.2: a remove without a path fails with noTarget.
  if (op === "remove") return patchFailure("noTarget", "remove needs a path");
  // §3.5.2.1/§3.5.2.3: without a path the value is an object of attributes to add or replace.
  if (!isPlainObject(value)) return patchFailure("invalidValue", `${op} without a path needs an object of attributes as its value`);
  const operations: NormalizedOperation[] = [];
  for (const [key, attributeValue] of Object.entries(value)) {
    const target = parsePath(key, schema);
    if (isFailure(target)) return target;
    const expanded = expand(op, target, attributeValue, schema);
    if (isFailure(expanded)) return expanded;
    operations.push(...expanded);
  }
  return operations;
}

function expand(op: PatchOpName, target: Target, value: unknown, schema: ResourceSchema): NormalizedOperation[] | PatchFailure {
  if (target.kind === "extension") return expandExtension(op, target.urn, target.attributes, value, schema);
  const path = pathOf(target);
  const { attribute, filter, subAttribute } = target;
  const whole = !filter && !subAttribute;

  if (op === "remove") {
    if (attribute.readOnly) return patchFailure("mutability", `${path} is read-only`);
    if (whole && attribute.required) return patchFailure("mutability", `${path} is required and cannot be removed`);
    if (value === undefined || value === null) return [{ op, target }];
    const removal = normalizeValue(target, value);
    return isFailure(removal) ? removal : [{ op, target, value: removal.value }];
  }

  if (value === undefined) return patchFailure("invalidValue", `${op} of ${path} needs a value`);
  // RFC 7643 §2.5: null is the same as unassigned. A replace with null clears; an add adds nothing.
  if (value === null) return op === "replace" ? expand("remove", target, undefined, schema) : [];

  const normalized = normalizeValue(target, value);
  if (isFailure(normalized)) return normalized;
  // A replace of a complex attribute that sets a sub-attribute to null clears that sub-attribute.
  const clears = op === "replace" ? normalized.cleared.map((sub): NormalizedOperation => ({ op: "remove", target: { ...target, subAttribute: sub } })) : [];
  const nothingToSet = isPlainObject(normalized.value) && Object.keys(normalized.value).length === 0;
  return [...(nothingToSet ? [] : [{ op, target, value: normalized.value }]), ...clears];
}

/** The whole enterprise object: each of its keys is an attribute of that extension. */
function expandExtension(op: PatchOpName, urn: string, attributes: readonly AttributeDef[], value: unknown, schema: ResourceSchema): NormalizedOperation[] | PatchFailure {
  if (op === "remove" || (op === "replace" && value === null)) {
    return attributes.map((attribute) => ({ op: "remove", target: { kind: "attribute", extension: urn, attribute } }));
  }
  if (value === null) return [];
  if (!isPlainObject(value)) return patchFailure("invalidValue", `${op} of ${urn} needs an object as its value`);
  const operations: NormalizedOperation[] = [];
  for (const [key, attributeValue] of Object.entries(value)) {
    const target = parsePath(`${urn}:${key}`, schema);
    if (isFailure(target)) return target;
    const expanded = expand(op, target, attributeValue, schema);
    if (isFailure(expanded)) return expanded;
    operations.push(...expanded);
  }
  return operations;
}

/** A value typed by the attribute table, and the sub-attributes it set to null. */
interface TypedValue {
  value: unknown;
  cleared: readonly AttributeDef[];
}

/**
 * The value for a target, typed by the attribute table: booleans from Entra's "True"/"False",
 * a bare id or a one-element array for a singular complex attribute (Entra's manager), one object
 * or an array of them for a multi-valued attribute.
 */
function normalizeValue(target: AttributeTarget, value: unknown): TypedValue | PatchFailure {
  const path = pathOf(target);
  const { attribute, filter, subAttribute } = target;
  if (subAttribute) return scalar(subAttribute, value, path);
  if (!attribute.multiValued && attribute.type !== "complex") return scalar(attribute, value, path);
  if (attribute.multiValued && !filter) {
    const values: unknown[] = [];
    for (const item of Array.isArray(value) ? value : [value]) {
      const element = attribute.type === "complex" ? complex(attribute, item, path) : scalar(attribute, item, path);
      if (isFailure(element)) return element;
      values.push(element.value);
    }
    return { value: values, cleared: [] };
  }
  // A singular complex attribute, or the one element of a multi-valued attribute a filter picks.
  let single = value;
  if (!attribute.multiValued) {
    if (Array.isArray(single) && single.length === 1) single = single[0];
    if (typeof single === "string" && findAttribute(attribute.subAttributes, "value")) single = { value: single };
  }
  return complex(attribute, single, path);
}

function complex(attribute: AttributeDef, value: unknown, path: string): TypedValue | PatchFailure {
  if (!isPlainObject(value)) return patchFailure("invalidValue", `${path} takes an object`);
  const result: Record<string, unknown> = {};
  const cleared: AttributeDef[] = [];
  for (const [key, subValue] of Object.entries(value)) {
    const sub = findAttribute(attribute.subAttributes, key);
    if (!sub) return patchFailure("invalidPath", `"${truncate(key)}" is not a sub-attribute of ${path}`);
    if (subValue === null) {
      cleared.push(sub);
      continue;
    }
    const typed = scalar(sub, subValue, `${path}.${sub.name}`);
    if (isFailure(typed)) return typed;
    result[sub.name] = typed.value;
  }
  return { value: result, cleared };
}

function scalar(attribute: AttributeDef, value: unknown, path: string): TypedValue | PatchFailure {
  if (attribute.type === "boolean") {
    if (typeof value === "boolean") return { value, cleared: [] };
    // Entra ID without aadOptscim062020: "active": "False".
    if (typeof value === "string" && /^(true|false)$/i.test(value)) return { value: value.toLowerCase() === "true", cleared: [] };
    return patchFailure("invalidValue", `${path} takes true or false`);
  }
  if (attribute.type === "complex") return patchFailure("invalidValue", `${path} takes an object`);
  if (typeof value !== "string") return patchFailure("invalidValue", `${path} takes a string`);
  return { value, cleared: [] };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Size bounds on everything a body carries: element count, depth and string length. */
function measure(value: unknown, depth: number, budget: { nodes: number }): string | null {
  if (value === undefined) return null;
  if (++budget.nodes > MAX_VALUE_NODES) return `values hold more than ${MAX_VALUE_NODES} elements in all`;
  if (typeof value === "string") return value.length > MAX_STRING_LENGTH ? `a string is longer than ${MAX_STRING_LENGTH} characters` : null;
  if (typeof value !== "object" || value === null) return null;
  if (depth >= MAX_VALUE_DEPTH) return `values nest deeper than ${MAX_VALUE_DEPTH} levels`;
  const entries = Array.isArray(value) ? value.map((item) => ["", item] as const) : Object.entries(value);
  for (const [key, child] of entries) {
    if (key.length > MAX_PATH_LENGTH) return `a key is longer than ${MAX_PATH_LENGTH} characters`;
    const problem = measure(child, depth + 1, budget);
    if (problem) return problem;
  }
  return null;
}
