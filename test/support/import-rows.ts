import { MAX_GROUP_NAME_LENGTH } from "../../src/import/row";
import { utf8Bytes } from "../../src/queue-message";

/**
 * An NDJSON import row whose JSON as queued (with `row: <row>`) is exactly `bytes` UTF-8 bytes,
 * made of three-byte group names (CJK), so byte and character counts differ the way they do in
 * real files. Valid: every group name is within the row rules.
 */
export function rowOfBytes(externalId: string, row: number, bytes: number): { external_id: string; groups: string[] } {
  const queued = (groups: string[]) => utf8Bytes(JSON.stringify({ row, external_id: externalId, active: true, groups }));
  const groups: string[] = [];
  const full = "組".repeat(MAX_GROUP_NAME_LENGTH - 8);
  // Whole names while a whole one (and its quotes and comma) still fits, then one name for the rest.
  let index = 0;
  while (queued([...groups, `${String(index).padStart(8, "0")}${full}`]) <= bytes) groups.push(`${String(index++).padStart(8, "0")}${full}`);
  const rest = bytes - queued([...groups, "00000000"]);
  if (rest < 0) throw new Error(`cannot make a row of ${bytes} bytes`);
  // Three-byte characters, then ASCII for what is not a multiple of three.
  groups.push(`${String(index).padStart(8, "0")}${"組".repeat(Math.floor(rest / 3))}${"x".repeat(rest % 3)}`);
  const made = { external_id: externalId, groups };
  if (queued(groups) !== bytes) throw new Error(`made ${queued(groups)} bytes, not ${bytes}`);
  return made;
}
