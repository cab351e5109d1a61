import type { Filter } from "scim2-parse-filter";
// The read server's parser: scim2-parse-filter with its string literals decoded as JSON strings.
import { parseFilter } from "../filter";
import { findAttribute, type AttributeDef, type ResourceSchema } from "./attributes";
import { patchFailure, truncate, type PatchFailure } from "./failure";

/**
 * A PATCH `path` (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`, with an optional schema URN
 * prefix, §3.10) resolved against the resource's attribute table, with canonical names:
 * `emails[type eq "work"].Value` → emails / filter `type eq "work"` / value.
 */
export interface AttributeTarget {
  kind: "attribute";
  /** The extension URN the attribute lives under, or null for the core schema. */
  extension: string | null;
  attribute: AttributeDef;
  filter?: ValueFilter;
  subAttribute?: AttributeDef;
}

/** The whole extension object: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. */
export interface ExtensionTarget {
  kind: "extension";
  urn: string;
  attributes: readonly AttributeDef[];
}

export type Target = AttributeTarget | ExtensionTarget;

export interface ValueFilter {
  /** As sent, between the brackets. */
  text: string;
  ast: Filter;
}

/** ATTRNAME (RFC 7643 §2.1), plus `$ref`. */
const NAME = /^[A-Za-z$][\w$-]*$/;
const FILTER_TAIL = /^\[(.+)\](?:\.([^.[\]]+))?$/s;

export function parsePath(path: string, schema: ResourceSchema): Target | PatchFailure {
  const invalid = (why: string) => patchFailure("invalidPath", `path "${truncate(path)}" ${why}`);
  const bracket = path.indexOf("[");
  const head = bracket === -1 ? path : path.slice(0, bracket);
  const tail = bracket === -1 ? "" : path.slice(bracket);

  const wholeExtension = schema.extensions.find((extension) => extension.urn.toLowerCase() === head.toLowerCase());
  if (wholeExtension) return tail ? invalid("filters an extension") : { kind: "extension", urn: wholeExtension.urn, attributes: wholeExtension.attributes };

  const colon = head.lastIndexOf(":");
  const [name = "", sub, ...rest] = head.slice(colon + 1).split(".");
  if (rest.length > 0 || !NAME.test(name) || (sub !== undefined && !NAME.test(sub))) return invalid("is not an attribute path");

  let extension: string | null = null;
  let attribute: AttributeDef | undefined;
  if (colon !== -1) {
    const urn = head.slice(0, colon).toLowerCase();
    const scope = urn === schema.core.toLowerCase() ? { urn: null, attributes: schema.attributes } : schema.extensions.find((candidate) => candidate.urn.toLowerCase() === urn);
    if (!scope) return invalid(`names a schema that a ${schema.resourceType} does not have`);
    extension = scope.urn;
    attribute = findAttribute(scope.attributes, name);
  } else {
    attribute = findAttribute(schema.attributes, name);
    if (!attribute) {
      // RFC 7644 §3.10: clients SHOULD (not MUST) prefix extension attributes. Entra's tutorial
      // sends `"path": "manager"`; an unprefixed name that only one extension has is that one.
      const found = schema.extensions.flatMap((candidate) => {
        const match = findAttribute(candidate.attributes, name);
        return match ? [{ urn: candidate.urn, match }] : [];
      });
      if (found.length === 1 && found[0]) ({ urn: extension, match: attribute } = found[0]);
    }
  }
  if (!attribute) return invalid(`names no attribute of a ${schema.resourceType}`);

  let subAttribute: AttributeDef | undefined;
  if (sub !== undefined) {
    if (tail) return invalid("puts a value filter after a sub-attribute");
    subAttribute = findAttribute(attribute.subAttributes, sub);
    if (!subAttribute) return invalid(`names no sub-attribute of ${attribute.name}`);
  }
  if (!tail) return { kind: "attribute", extension, attribute, subAttribute };

  const parts = FILTER_TAIL.exec(tail);
  if (!parts?.[1]) return invalid("has a malformed value filter");
  if (!attribute.multiValued || attribute.type !== "complex") return invalid(`filters ${attribute.name}, which is not a multi-valued complex attribute`);
  let ast: Filter;
  try {
    ast = parseFilter(parts[1]);
  } catch {
    return invalid("has a value filter that does not parse");
  }
  if (!filtersOnlySubAttributes(ast, attribute)) return invalid(`filters on something that is not a sub-attribute of ${attribute.name}`);
  if (parts[2] !== undefined) {
    subAttribute = findAttribute(attribute.subAttributes, parts[2]);
    if (!subAttribute) return invalid(`names no sub-attribute of ${attribute.name}`);
  }
  return { kind: "attribute", extension, attribute, filter: { text: parts[1], ast }, subAttribute };
}

/** The path in canonical spelling, for scim-patch and for error details. */
export function pathOf(target: AttributeTarget, options: { withFilter?: boolean; withSubAttribute?: boolean } = {}): string {
  const { withFilter = true, withSubAttribute = true } = options;
  let path = target.extension ? `${target.extension}:${target.attribute.name}` : target.attribute.name;
  if (withFilter && target.filter) path += `[${target.filter.text}]`;
  if (withSubAttribute && target.subAttribute) path += `.${target.subAttribute.name}`;
  return path;
}


/** `emails[type eq "work"]`: every attribute the filter reads is a sub-attribute; no nesting. */
function filtersOnlySubAttributes(node: Filter, attribute: AttributeDef): boolean {
  switch (node.op) {
    case "and":
    case "or":
      return node.filters.every((child) => filtersOnlySubAttributes(child, attribute));
    case "not":
      return filtersOnlySubAttributes(node.filter, attribute);
    case "[]":
      return false;
    default:
      return findAttribute(attribute.subAttributes, node.attrPath) !== undefined;
  }
}
