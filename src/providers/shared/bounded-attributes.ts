import { MAX_ATTRIBUTE_KEYS, MAX_ATTRIBUTES_JSON_BYTES } from "../../events";

type Scalar = string | number | boolean | null;

/** Set when some attributes did not fit, so an application can tell "cut" from "absent". */
export const TRUNCATED_KEY = "_truncated";
const MAX_KEY_LENGTH = 128;
const MAX_VALUE_LENGTH = 1024;

const byteLength = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/**
 * A user's attributes cut to the stored bounds (events.ts: at most 100 keys and 8 KiB of JSON),
 * deterministically, so the same profile always stores the same attributes (fingerprints stay
 * stable). Entries are taken in the order given (callers put documented fields before custom
 * ones, then keys in sorted order); an entry that would cross a bound is skipped, as are
 * non-scalar values and over-long keys or strings, and `_truncated: true` records that something
 * was left out. The user is never refused for having too many attributes.
 *
 * @example boundAttributes([["department", "Sales"], ["custom.badge", 42]]) // { department: "Sales", "custom.badge": 42 }
 */
export function boundAttributes(entries: [string, unknown][]): Record<string, Scalar> | null {
  const kept: Record<string, Scalar> = {};
  let truncated = false;
  // Room is reserved for the marker, so adding it never crosses a bound.
  const maxKeys = MAX_ATTRIBUTE_KEYS - 1;
  const maxBytes = MAX_ATTRIBUTES_JSON_BYTES - byteLength({ [TRUNCATED_KEY]: true });
  let bytes = 2;
  for (const [key, value] of entries) {
    if (value === undefined || value === null || Object.hasOwn(kept, key)) continue;
    const fits =
      isScalar(value) && key.length <= MAX_KEY_LENGTH && (typeof value !== "string" || value.length <= MAX_VALUE_LENGTH) && Object.keys(kept).length < maxKeys;
    const size = byteLength(key) + 1 + byteLength(value) + (Object.keys(kept).length ? 1 : 0);
    if (!fits || bytes + size > maxBytes) {
      truncated = true;
      continue;
    }
    kept[key] = value as Scalar;
    bytes += size;
  }
  if (truncated) kept[TRUNCATED_KEY] = true;
  return Object.keys(kept).length ? kept : null;
}

function isScalar(value: unknown): boolean {
  return typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
}
