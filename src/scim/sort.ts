import { sql, type SQL } from "drizzle-orm";
import { ScimRequestError } from "./errors";
import { resolveAttribute, type AttributeMap } from "./filter";

/**
 * sortBy/sortOrder (RFC 7644 §3.4.2.3) → ORDER BY terms, over the same attribute whitelist and
 * SQL expressions as filters: case-insensitive attributes sort on their folded keys, as they
 * compare. A resource without a value sorts last ascending and first descending, as the RFC says.
 * The caller appends the id, so equal values keep one stable order across pages.
 */
export function sortToSql(sortBy: string | undefined, sortOrder: "ascending" | "descending", attributes: AttributeMap): SQL[] {
  if (sortBy === undefined) return [];
  const attribute = resolveAttribute(sortBy.trim().toLowerCase(), attributes);
  if (!attribute) throw new ScimRequestError("invalidValue", "sortBy: sorting on this attribute is not supported.");
  // An empty string (a display name with no parts) counts as no value.
  const value = attribute.kind === "string" ? sql`nullif(${attribute.expression}, '')` : attribute.expression;
  return [sortOrder === "ascending" ? sql`${value} ASC NULLS LAST` : sql`${value} DESC NULLS FIRST`];
}
