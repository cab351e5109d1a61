import { filter as compileFilter } from "scim2-parse-filter";
import { NoTarget, ScimError, scimPatch, type ScimPatchOperation, type ScimResource as ScimPatchResource } from "scim-patch";
import { findAttribute, GROUP_PATCH_SCHEMA, USER_PATCH_SCHEMA, type AttributeDef, type ResourceSchema } from "./attributes";
import { patchFailure, type PatchFailure } from "./failure";
import { normalizePatch, type NormalizedOperation } from "./normalize-patch";
import { pathOf, type AttributeTarget } from "./patch-path";

/**
 * SCIM PATCH (RFC 7644 §3.5.2) on a User or Group representation, as a pure function:
 * normalize the clients' dialects (normalize-patch.ts), then apply each operation with
 * scim-patch, then check what RFC 7644 asks of the result.
 *
 * - Atomic (§3.5.2): the input is never modified; any failing operation fails the whole patch.
 * - Read-only attributes (id, meta, schemas, groups) may be restated but never changed, and a
 *   required attribute (userName, displayName) cannot be left unassigned: 400 `mutability`.
 * - Setting `primary: true` on one value clears it on the others (§3.5.2).
 * - A Group's members are deduplicated by `value`, and the ids that the patch added or removed
 *   come back as `changedMembers`, since memberships are stored apart from the group.
 * - `schemas` follows the content: it lists the enterprise extension exactly when the resource
 *   has enterprise attributes.
 *
 * @example
 * const result = applyPatch(group, await request.json(), "Group");
 * if (!result.ok) return scimError(result.status, result.scimType, result.detail);
 */

export type ScimResource = Record<string, unknown>;
export type ScimResourceKind = "User" | "Group";

export type ApplyPatchResult = { ok: true; resource: ScimResource; changedMembers?: { added: string[]; removed: string[] } } | PatchFailure;

const SCHEMAS: Record<ScimResourceKind, ResourceSchema> = { User: USER_PATCH_SCHEMA, Group: GROUP_PATCH_SCHEMA };

/** Operations × values of the largest multi-valued attribute one PATCH may touch (about 100 ms of CPU). */
export const MAX_PATCH_WORK = 500_000;

export function applyPatch(resource: ScimResource, body: unknown, kind: ScimResourceKind): ApplyPatchResult {
  const schema = SCHEMAS[kind];
  const normalized = normalizePatch(body, schema);
  if (!normalized.ok) return normalized;
  // One copy up front; scim-patch then edits it in place (a copy per operation would be
  // quadratic for a large group). A failure discards the copy, so the input stays as it was.
  const working = structuredClone(resource);
  // Each filtered or by-value removal scans the multi-valued attribute: bound operations × values,
  // so one request cannot spend seconds of CPU (1,000 removals on a 10,000-member group would).
  const largest = Math.max(0, ...Object.values(resource).map((value) => (Array.isArray(value) ? value.length : 0)));
  if (normalized.operations.length * largest > MAX_PATCH_WORK) {
    return patchFailure("invalidValue", `too much work in one request: ${normalized.operations.length} operations on ${largest} values; send fewer operations per request`);
  }
  for (const [index, operation] of normalized.operations.entries()) {
    const failure = applyOperation(working, operation);
    if (failure) return { ...failure, detail: `operation ${index + 1} (${operation.op} ${pathOf(operation.target)}): ${failure.detail}` };
  }
  return finish(resource, working, schema);
}

function applyOperation(resource: ScimResource, operation: NormalizedOperation): PatchFailure | null {
  const { op, target, value } = operation;
  const { attribute, filter, subAttribute } = target;
  if (attribute.readOnly) {
    // Okta's group rename restates the id; that is not a change.
    return isDeepStrictEqual(read(resource, target), value) ? null : patchFailure("mutability", "the attribute is read-only");
  }
  if (op === "remove" && ((filter && !subAttribute) || value !== undefined)) return removeMatching(resource, operation);
  // scim-patch re-parses the path: it splits it at its last ":" and re-reads string literals with
  // the tokenizer bug parsePath works around. Removals by filter are resolved above; other
  // filtered paths must be plain (Entra's `emails[type eq "work"].value` is).
  if (filter && /[:\\]/.test(filter.text)) return patchFailure("invalidPath", `a value filter with ":" or "\\" is only supported to remove values`);
  const primaries = primaryFlags(resource, target);
  const failure = runScimPatch(resource, { op, path: pathOf(target), value } as ScimPatchOperation);
  if (failure) return failure;
  return primaries ? keepOnePrimary(resource, target, primaries, op === "replace" && !filter && !subAttribute) : null;
}

/**
 * Remove the values a filter (`members[value eq "id"]`) or a value list (Entra's
 * `"path": "members", "value": [{"value": "id"}]`) picks out. The values are picked here, with the
 * repaired filter parser, and scim-patch removes exactly those: ids with ":" (ours) then work.
 */
function removeMatching(resource: ScimResource, operation: NormalizedOperation): PatchFailure | null {
  const { target, value } = operation;
  const current = read(resource, { ...target, filter: undefined, subAttribute: undefined });
  const path = pathOf(target, { withFilter: false, withSubAttribute: false });
  if (!target.attribute.multiValued) {
    if (current === undefined || !matches(read(resource, target), value)) return null;
    return runScimPatch(resource, { op: "remove", path: pathOf(target) });
  }
  if (target.subAttribute) return patchFailure("invalidPath", "a remove with a value names the multi-valued attribute itself");
  if (!Array.isArray(current)) return null;
  const picked = target.filter ? compileFilter(target.filter.ast) : (entry: unknown) => (value as unknown[]).some((item) => matches(entry, item));
  const removed = current.filter((entry) => picked(entry));
  if (removed.length === 0) return null;
  // RFC 7644 §3.5.2.2: a multi-valued attribute with no values left is unassigned.
  return runScimPatch(resource, removed.length === current.length ? { op: "remove", path } : { op: "remove", path, value: removed });
}

/** An entry matches a removal value if every sub-attribute the value gives is equal. */
function matches(entry: unknown, item: unknown): boolean {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return isDeepStrictEqual(entry, item);
  if (typeof entry !== "object" || entry === null) return false;
  return Object.entries(item).every(([key, expected]) => isDeepStrictEqual((entry as Record<string, unknown>)[key], expected));
}

function runScimPatch(resource: ScimResource, operation: ScimPatchOperation): PatchFailure | null {
  try {
    scimPatch(resource as unknown as ScimPatchResource, [operation], { mutateDocument: true, treatMissingAsAdd: true });
    return null;
  } catch (error) {
    if (error instanceof NoTarget) return patchFailure("noTarget", "the value filter matched nothing");
    if (error instanceof ScimError) return patchFailure("invalidValue", error.message.slice(0, 200));
    throw error;
  }
}

/** The current value at a target without a filter; undefined when unassigned. */
function read(resource: ScimResource, target: AttributeTarget): unknown {
  const container = target.extension ? resource[target.extension] : resource;
  if (typeof container !== "object" || container === null) return undefined;
  const value = (container as Record<string, unknown>)[target.attribute.name];
  if (!target.subAttribute) return value;
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[target.subAttribute.name] : undefined;
}

/** Which values of a multi-valued attribute with `primary` were primary before an operation. */
function primaryFlags(resource: ScimResource, target: AttributeTarget): boolean[] | null {
  if (!target.attribute.multiValued || !findAttribute(target.attribute.subAttributes, "primary")) return null;
  const values = read(resource, { ...target, filter: undefined, subAttribute: undefined });
  return Array.isArray(values) ? values.map(isPrimary) : [];
}

/**
 * RFC 7644 §3.5.2: setting one value's `primary` to true sets it to false on the others. The
 * value newly made primary is found by position (scim-patch edits in place and appends new
 * values); a client that sends a whole array with two primaries gets invalidValue.
 */
function keepOnePrimary(resource: ScimResource, target: AttributeTarget, before: boolean[], wholeArray: boolean): PatchFailure | null {
  const values = read(resource, { ...target, filter: undefined, subAttribute: undefined });
  if (!Array.isArray(values) || values.filter(isPrimary).length <= 1) return null;
  const newly = values.flatMap((value, index) => (isPrimary(value) && !before[index] ? [index] : []));
  if (wholeArray || newly.length !== 1) return patchFailure("invalidValue", `more than one value of ${target.attribute.name} is primary`);
  values.forEach((value, index) => {
    if (index !== newly[0] && isPrimary(value)) (value as Record<string, unknown>).primary = false;
  });
  return null;
}

const isPrimary = (value: unknown) => typeof value === "object" && value !== null && (value as Record<string, unknown>).primary === true;

function finish(original: ScimResource, patched: ScimResource, schema: ResourceSchema): ApplyPatchResult {
  for (const attribute of schema.attributes) {
    if (attribute.readOnly && attribute.name !== "schemas" && !isDeepStrictEqual(original[attribute.name], patched[attribute.name])) {
      return patchFailure("mutability", `${attribute.name} is read-only`);
    }
    if (attribute.required) {
      const failure = checkRequired(attribute, original[attribute.name], patched[attribute.name]);
      if (failure) return failure;
    }
  }
  for (const extension of schema.extensions) {
    const container = patched[extension.urn];
    if (typeof container === "object" && container !== null && Object.keys(container).length === 0) delete patched[extension.urn];
  }
  if (Array.isArray(patched.schemas) || schema.extensions.some((extension) => extension.urn in patched)) patched.schemas = schemasFor(patched, schema);
  if (schema.resourceType !== "Group") return { ok: true, resource: patched };
  if (Array.isArray(patched.members)) patched.members = uniqueByValue(patched.members);
  return { ok: true, resource: patched, changedMembers: memberChanges(original.members, patched.members) };
}

function checkRequired(attribute: AttributeDef, before: unknown, after: unknown): PatchFailure | null {
  if (after === undefined || after === null) {
    // RFC 7644 §3.5.2.2: leaving a required attribute unassigned is a mutability error.
    return before === undefined || before === null ? null : patchFailure("mutability", `${attribute.name} is required`);
  }
  return typeof after === "string" && after.length > 0 ? null : patchFailure("invalidValue", `${attribute.name} must be a non-empty string`);
}

/** The core schema, any other schema already listed, and each extension the resource now has. */
function schemasFor(resource: ScimResource, schema: ResourceSchema): string[] {
  const listed = Array.isArray(resource.schemas) ? resource.schemas.filter((urn): urn is string => typeof urn === "string") : [schema.core];
  const extensions = new Set(schema.extensions.map((extension) => extension.urn));
  const kept = listed.filter((urn) => !extensions.has(urn) || urn in resource);
  const added = [...extensions].filter((urn) => urn in resource && !kept.includes(urn));
  return [...(kept.includes(schema.core) ? [] : [schema.core]), ...kept, ...added];
}

/** Entra adds `{"value": id}` next to our `{"value": id, "type": "User", "$ref": …}`: keep the first. */
function uniqueByValue(members: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  return members.filter((member) => {
    const key = typeof member === "object" && member !== null ? (member as Record<string, unknown>).value : member;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function memberChanges(before: unknown, after: unknown): { added: string[]; removed: string[] } {
  const ids = (members: unknown) => new Set(Array.isArray(members) ? members.flatMap((member) => (typeof member?.value === "string" ? [member.value] : [])) : []);
  const beforeIds = ids(before);
  const afterIds = ids(after);
  return { added: [...afterIds].filter((id) => !beforeIds.has(id)), removed: [...beforeIds].filter((id) => !afterIds.has(id)) };
}

/** Structural equality on JSON values. */
function isDeepStrictEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== "object" || typeof right !== "object" || left === null || right === null) return false;
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  const leftKeys = Object.keys(left);
  const rightKeys = Object.keys(right);
  if (leftKeys.length !== rightKeys.length) return false;
  return leftKeys.every((key) => Object.hasOwn(right, key) && isDeepStrictEqual((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key]));
}
