import { sql, type SQL } from "drizzle-orm";
import type { Filter } from "scim2-parse-filter";
// The parser's own building blocks: its tokenizer mangles string literals (see parseFilter below).
import { parseFilter as parseTokens, tokenizer, Tokens } from "scim2-parse-filter/lib/src/parser";
import { foldCase } from "../directory/fold";
import { ScimRequestError } from "./errors";

/**
 * SCIM filters (RFC 7644 §3.4.2.2) → a parameterized SQL condition.
 *
 * Parsing is scim2-parse-filter's (with its string literals decoded as the JSON strings RFC 7644
 * §3.4.2.2 says they are); translation is here, and it is where safety lives:
 * - only attributes in the resource's whitelist are accepted, each mapped to a fixed SQL
 *   expression (no identifier ever comes from the request);
 * - every value is a bound parameter, and co/sw/ew use instr()/substr(), never LIKE, so no
 *   character of a value is a wildcard (and LIKE's ASCII-only case-insensitivity never applies);
 * - case-insensitive attributes (`kind: "string"`) are read from their folded key column and
 *   compared with foldCase(value), the same folding the writes store (directory/fold.ts);
 *   case-exact ones compare byte for byte;
 * - the filter's length, nesting depth and number of terms are bounded before and after parsing,
 *   so a hostile filter cannot exhaust the parser's stack or build a huge query.
 * Anything else is a `ScimFilterError` (400 invalidFilter).
 */

export class ScimFilterError extends ScimRequestError {
  constructor(detail: string) {
    super("invalidFilter", detail);
    this.name = "ScimFilterError";
  }
}

export type AttributeKind = "string" | "caseExactString" | "boolean" | "dateTime";

export interface FilterAttribute {
  kind: AttributeKind;
  /** For `string` (case-insensitive) attributes: the folded key column, never the raw value. */
  expression: SQL;
}

/** Lower-cased attribute path → how to read it in SQL. */
export type AttributeMap = Record<string, FilterAttribute>;

const MAX_FILTER_LENGTH = 1000;
const MAX_DEPTH = 8;
const MAX_TERMS = 20;

export function filterToSql(filter: string, attributes: AttributeMap): SQL {
  if (filter.length > MAX_FILTER_LENGTH) throw new ScimFilterError(`filter is longer than ${MAX_FILTER_LENGTH} characters`);
  if (nestingDepth(filter) > MAX_DEPTH) throw new ScimFilterError(`filter nests deeper than ${MAX_DEPTH} levels`);
  let ast: Filter;
  try {
    ast = parseFilter(filter);
  } catch (error) {
    throw new ScimFilterError(`filter does not parse: ${error instanceof Error ? error.message.slice(0, 200) : "syntax error"}`);
  }
  const budget = { terms: 0 };
  return translate(ast, attributes, 0, budget, null);
}

function translate(node: Filter, attributes: AttributeMap, depth: number, budget: { terms: number }, prefix: string | null): SQL {
  if (depth > MAX_DEPTH) throw new ScimFilterError(`filter nests deeper than ${MAX_DEPTH} levels`);
  switch (node.op) {
    case "and":
    case "or": {
      const parts = node.filters.map((child) => translate(child, attributes, depth + 1, budget, prefix));
      return sql`(${sql.join(parts, node.op === "and" ? sql` AND ` : sql` OR `)})`;
    }
    case "not":
      // A comparison on a missing value is NULL in SQL, and NOT NULL is NULL again; in SCIM it is
      // false, so its negation is true: `not (emails co "x")` matches a user without an email.
      return sql`(NOT coalesce(${translate(node.filter, attributes, depth + 1, budget, prefix)}, 0))`;
    case "[]": {
      // emails[value eq "x"]: the inner filter addresses sub-attributes of the outer path.
      if (prefix !== null) throw new ScimFilterError("nested value filters are not supported");
      return translate(node.valFilter, attributes, depth + 1, budget, node.attrPath);
    }
    default: {
      if (++budget.terms > MAX_TERMS) throw new ScimFilterError(`filter has more than ${MAX_TERMS} terms`);
      const path = (prefix ? `${prefix}.${node.attrPath}` : node.attrPath).toLowerCase();
      const attribute = resolveAttribute(path, attributes);
      if (!attribute) throw new ScimFilterError(`filtering on "${truncate(path)}" is not supported`);
      if (node.op === "pr") return sql`(${attribute.expression} IS NOT NULL AND ${attribute.expression} <> '')`;
      return compare(attribute, node.op, node.compValue, path);
    }
  }
}

type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "lt" | "ge" | "le";

function compare(attribute: FilterAttribute, op: CompareOp, value: string | number | boolean | null, path: string): SQL {
  const column = attribute.expression;
  if (value === null) {
    if (op === "eq") return sql`(${column} IS NULL)`;
    if (op === "ne") return sql`(${column} IS NOT NULL)`;
    throw new ScimFilterError(`"${op}" cannot compare with null`);
  }
  switch (attribute.kind) {
    case "boolean": {
      if (typeof value !== "boolean" || (op !== "eq" && op !== "ne")) throw new ScimFilterError(`"${truncate(path)}" takes eq or ne with true or false`);
      return op === "eq" ? sql`(${column} = ${value ? 1 : 0})` : sql`(${column} <> ${value ? 1 : 0})`;
    }
    case "dateTime": {
      const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(ms) || ["co", "sw", "ew"].includes(op)) throw new ScimFilterError(`"${truncate(path)}" compares with an ISO 8601 date-time using eq, ne, gt, ge, lt or le`);
      return ordered(column, op, ms);
    }
    default: {
      if (typeof value !== "string") throw new ScimFilterError(`"${truncate(path)}" compares with a string`);
      // caseExact=false attributes (RFC 7643 §2.2): the column is already folded; fold the value alike.
      const right = attribute.kind === "string" ? foldCase(value) : value;
      if (op === "co") return sql`(instr(${column}, ${right}) > 0)`;
      if (op === "sw") return sql`(instr(${column}, ${right}) = 1)`;
      if (op === "ew") return sql`(substr(${column}, length(${column}) - length(${right}) + 1) = ${right})`;
      return ordered(column, op, right);
    }
  }
}

function ordered(left: SQL, op: CompareOp, right: string | number): SQL {
  switch (op) {
    case "eq":
      return sql`(${left} = ${right})`;
    case "ne":
      return sql`(${left} IS NULL OR ${left} <> ${right})`;
    case "gt":
      return sql`(${left} > ${right})`;
    case "ge":
      return sql`(${left} >= ${right})`;
    case "lt":
      return sql`(${left} < ${right})`;
    case "le":
      return sql`(${left} <= ${right})`;
    default:
      throw new ScimFilterError(`"${op}" is not supported for this attribute`);
  }
}

/** Parenthesis and bracket depth outside string literals: checked before the parser recurses. */
function nestingDepth(filter: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < filter.length; i++) {
    const character = filter[i];
    if (inString) {
      if (character === "\\") i++;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === "(" || character === "[") deepest = Math.max(deepest, ++depth);
    else if (character === ")" || character === "]") depth--;
  }
  return deepest;
}

/**
 * scim2-parse-filter's `parse`, except for string literals. Its tokenizer finds a quoted token
 * correctly (any JSON escape may appear inside), but then doubles every backslash that is not
 * followed by a quote before its JSON.parse, so `"back\\slash"` came out with two backslashes,
 * `"\u0041"` stayed literal and `"back\\"` did not parse at all. Undoing that doubling on each
 * quoted token lets the parser's own JSON.parse decode the literal as the JSON string it is; an
 * invalid escape (`\q`) then fails to parse, which is a 400 invalidFilter. The undoing is exact:
 * a run of k backslashes became 2k, or 2k-1 before a quote, and pairing from the left gives k back.
 */
export function parseFilter(filter: string): Filter {
  const tokens = tokenizer(filter).map((token) => (token.type === "Quoted" ? { ...token, literal: token.literal.replace(/\\\\/g, "\\") } : token));
  const list = new Tokens(tokens);
  const ast = parseTokens(list);
  if (list.peek().type !== "EOT") throw new Error("unexpected text after the filter");
  return ast;
}

/**
 * A lower-cased filter or sortBy path → its attribute. Full URN paths are keys of the map too
 * (resources.ts), so only the resource's own schema matches. Own keys only, so `constructor` or
 * `__proto__` is an unknown attribute, not a crash.
 */
export function resolveAttribute(path: string, attributes: AttributeMap): FilterAttribute | undefined {
  return Object.hasOwn(attributes, path) ? attributes[path] : undefined;
}

const truncate = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}…` : text);
