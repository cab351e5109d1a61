import * as z from "zod";
import { MAX_RESULTS } from "./discovery";
import { ScimRequestError } from "./errors";
import { SCHEMA } from "./resources";

/**
 * The parameters of a SCIM list (RFC 7644 §3.4.2), from a GET query string or a POST /.search
 * body (§3.4.3), which mean the same thing. Both are validated here with zod, into one ListRequest.
 */
export interface ListRequest {
  filter: string | undefined;
  /** 1-based, at least 1. */
  startIndex: number;
  /** 0..MAX_RESULTS. */
  count: number;
  attributes: string[] | null;
  excludedAttributes: string[] | null;
  sortBy: string | undefined;
  sortOrder: "ascending" | "descending";
}

/** A JSON integer, or a string of decimal digits (query strings are strings): `abc`, `1.5`, `1e2` are not. */
const integer = z.union([z.number(), z.string()]).transform((value, context) => {
  const number = typeof value === "number" ? value : /^[+-]?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number)) {
    context.addIssue({ code: "custom", message: "must be an integer" });
    return z.NEVER;
  }
  return number;
});

// RFC 7644 §3.4.2.4: a startIndex below 1 means 1; a negative count means 0; a count above the
// maximum means the maximum. Only a value that is not an integer at all is an error. A startIndex
// past any directory there could be is held to an integer SQLite's OFFSET and JSON both keep exact.
const startIndex = integer.transform((value) => Math.min(Math.max(1, value), Number.MAX_SAFE_INTEGER));
const count = integer.transform((value) => Math.min(Math.max(0, value), MAX_RESULTS));
const sortOrder = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(["ascending", "descending"]));
const sortBy = z.string().min(1, "names no attribute");

/** `attributes=userName,emails.value` → ["userName", "emails.value"]. */
const splitList = (value: string) => value.split(",").map((name) => name.trim()).filter(Boolean);

const queryParameters = z.object({
  filter: z.string().optional(),
  startIndex: startIndex.optional(),
  count: count.optional(),
  attributes: z.string().transform(splitList).optional(),
  excludedAttributes: z.string().transform(splitList).optional(),
  sortBy: sortBy.optional(),
  sortOrder: sortOrder.optional(),
});

// A null member is taken as absent; attribute lists may also come comma-separated, as in a query.
const attributeList = z.union([z.array(z.string()), z.string().transform(splitList)]).nullish();
const searchBody = z.object({
  schemas: z.array(z.string()).nullish(),
  filter: z.string().nullish(),
  startIndex: startIndex.nullish(),
  count: count.nullish(),
  attributes: attributeList,
  excludedAttributes: attributeList,
  sortBy: sortBy.nullish(),
  sortOrder: sortOrder.nullish(),
});

/**
 * More attribute names than any resource has attributes is a request to burn CPU: projection
 * walks every resource once per name.
 */
export const MAX_ATTRIBUTE_NAMES = 50;

/**
 * An empty list (`"attributes": []`, `attributes=`) names nothing: as if it were not sent. Names
 * are de-duplicated (case-insensitively) and at most MAX_ATTRIBUTE_NAMES are accepted.
 */
const namesOrNull = (names: string[] | null | undefined) => {
  const kept = [...new Map((names ?? []).map((name) => name.trim()).filter(Boolean).map((name) => [name.toLowerCase(), name])).values()];
  if (kept.length > MAX_ATTRIBUTE_NAMES) throw new ScimRequestError("invalidValue", `attributes: at most ${MAX_ATTRIBUTE_NAMES} names`);
  return kept.length ? kept : null;
};

type Parsed = z.infer<typeof queryParameters> | z.infer<typeof searchBody>;

function toListRequest(parsed: Parsed): ListRequest {
  return {
    filter: parsed.filter ?? undefined,
    startIndex: parsed.startIndex ?? 1,
    count: parsed.count ?? MAX_RESULTS,
    attributes: namesOrNull(parsed.attributes),
    excludedAttributes: namesOrNull(parsed.excludedAttributes),
    sortBy: parsed.sortBy ?? undefined,
    sortOrder: parsed.sortOrder ?? "ascending",
  };
}

function invalidValue(error: z.ZodError): ScimRequestError {
  const issue = error.issues[0];
  return new ScimRequestError("invalidValue", `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`);
}

/** GET /Users?… and GET /Groups?… */
export function listRequestFromQuery(query: Record<string, string>): ListRequest {
  const parsed = queryParameters.safeParse(query);
  if (!parsed.success) throw invalidValue(parsed.error);
  return toListRequest(parsed.data);
}

/** POST /Users/.search and POST /Groups/.search: a SearchRequest message. */
export function listRequestFromSearch(body: string): ListRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ScimRequestError("invalidSyntax", "The body is not JSON.");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ScimRequestError("invalidSyntax", "The body is not a SearchRequest object.");
  const parsed = searchBody.safeParse(json);
  if (!parsed.success) throw invalidValue(parsed.error);
  // `schemas` may be left out (lenient), but when sent it must name this message, not another one.
  const schemas = parsed.data.schemas;
  if (schemas && (schemas.length !== 1 || schemas[0] !== SCHEMA.searchRequest)) {
    throw new ScimRequestError("invalidSyntax", `schemas must be ["${SCHEMA.searchRequest}"].`);
  }
  return toListRequest(parsed.data);
}
