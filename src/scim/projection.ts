/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).
 *
 * A name is an attribute path, case-insensitive (RFC 7643 §2.1), in any of these forms:
 * - `userName`, `name.givenName`, `emails.type` (the resource's core schema);
 * - `urn:ietf:params:scim:schemas:core:2.0:User:userName` (the same, fully qualified);
 * - `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` (an extension's
 *   attribute, which lives in the resource under the extension's URN), or the URN alone.
 * `attributes` returns only what is named (a sub-attribute keeps its parent, with only that
 * sub-attribute); `excludedAttributes` removes what is named, sub-attributes included. A complex
 * value left empty is left out. `id` and `schemas` are always returned (`returned: always`).
 * Names that match nothing are ignored, as the RFC allows.
 */

type Json = Record<string, unknown>;

/** A parsed name: lower-cased keys from the resource's top level down. */
type Path = string[];

export interface Projection {
  attributes: Path[] | null;
  excluded: Path[] | null;
}

export interface ResourceSchemas {
  core: string;
  extensions: readonly string[];
}

const ALWAYS = new Set(["id", "schemas"]);

function parsePath(name: string, schemas: ResourceSchemas): Path {
  const lower = name.trim().toLowerCase();
  // Extensions first: their URN is a top-level key, and it contains a dot ("2.0") that is not a path separator.
  for (const urn of schemas.extensions.map((extension) => extension.toLowerCase())) {
    if (lower === urn) return [urn];
    if (lower.startsWith(`${urn}:`)) return [urn, ...lower.slice(urn.length + 1).split(".")];
  }
  const core = `${schemas.core.toLowerCase()}:`;
  return (lower.startsWith(core) ? lower.slice(core.length) : lower).split(".");
}

export function parseProjection(attributes: string[] | null, excluded: string[] | null, schemas: ResourceSchemas): Projection {
  const parse = (names: string[] | null) => (names === null ? null : names.map((name) => parsePath(name, schemas)));
  return { attributes: parse(attributes), excluded: parse(excluded) };
}

/** Whether a top-level attribute appears in the response at all: lists skip the queries behind the ones that do not. */
export function returnsAttribute(projection: Projection, name: string): boolean {
  const key = name.toLowerCase();
  if (projection.attributes) return projection.attributes.some((path) => path[0] === key);
  if (projection.excluded) return !projection.excluded.some((path) => path.length === 1 && path[0] === key);
  return true;
}

export function project(resource: Json, projection: Projection): Json {
  // `attributes` wins when both are sent: it already names everything that is returned.
  const projected = projection.attributes ? keep(resource, projection.attributes) : projection.excluded ? drop(resource, projection.excluded) : resource;
  const result = (projected ?? {}) as Json;
  const always = Object.fromEntries(Object.entries(resource).filter(([key]) => ALWAYS.has(key)));
  return { ...always, ...result };
}

const isEmpty = (value: unknown) => (Array.isArray(value) ? value.length === 0 : typeof value === "object" && value !== null && Object.keys(value).length === 0);

/** The parts of `value` the paths name; undefined when none. */
function keep(value: unknown, paths: Path[]): unknown {
  if (paths.some((path) => path.length === 0)) return value;
  if (Array.isArray(value)) return nonEmpty(value.map((item) => keep(item, paths)).filter((item) => item !== undefined && !isEmpty(item)));
  if (typeof value !== "object" || value === null) return undefined;
  const result: Json = {};
  for (const [key, child] of Object.entries(value)) {
    const rest = paths.filter((path) => path[0] === key.toLowerCase()).map((path) => path.slice(1));
    if (rest.length === 0) continue;
    const kept = keep(child, rest);
    if (kept !== undefined && !isEmpty(kept)) result[key] = kept;
  }
  return nonEmpty(result);
}

/** `value` without the parts the paths name; undefined when nothing is left. */
function drop(value: unknown, paths: Path[]): unknown {
  if (paths.some((path) => path.length === 0)) return undefined;
  if (Array.isArray(value)) return nonEmpty(value.map((item) => drop(item, paths)).filter((item) => item !== undefined && !isEmpty(item)));
  if (typeof value !== "object" || value === null) return value;
  const result: Json = {};
  for (const [key, child] of Object.entries(value)) {
    const rest = paths.filter((path) => path[0] === key.toLowerCase()).map((path) => path.slice(1));
    const left = rest.length === 0 ? child : drop(child, rest);
    if (left !== undefined && !(rest.length > 0 && isEmpty(left))) result[key] = left;
  }
  return nonEmpty(result);
}

const nonEmpty = <T>(value: T): T | undefined => (isEmpty(value) ? undefined : value);
