import { MAX_MESSAGE_BYTES, messageBytes, QUEUE_MESSAGE_VERSION, utf8Bytes, type ImportChunkMessage } from "../queue-message";
import { MAX_ROWS_PER_CHUNK, MAX_SEND_BATCH_CALLS, SEND_BATCH_BYTES, SEND_BATCH_MESSAGES, SEND_BATCH_OVERHEAD_PER_MESSAGE } from "./limits";
import type { ImportRow } from "./row";

/**
 * Valid rows → queue messages (chunks), in file order, and those messages → sendBatch calls.
 * A chunk holds at most MAX_ROWS_PER_CHUNK rows and MAX_MESSAGE_BYTES of JSON (UTF-8 bytes, as the
 * Queue counts them); a call at most SEND_BATCH_MESSAGES messages and SEND_BATCH_BYTES.
 */

export type ChunkEnvelope = Omit<ImportChunkMessage, "v" | "kind" | "chunk" | "rows">;

/** The largest chunk number sized into the envelope estimate (far above what the caps allow). */
const WIDEST_CHUNK_NUMBER = 999_999;

/** `rowBytes[i]`: rows[i]'s JSON size in UTF-8 bytes, when the caller has it (parse.ts measures every row). */
export function chunkRows(rows: ImportRow[], envelope: ChunkEnvelope, rowBytes?: number[]): ImportChunkMessage[] {
  const message = (chunk: number, slice: ImportRow[]): ImportChunkMessage => ({ v: QUEUE_MESSAGE_VERSION, kind: "import", ...envelope, chunk, rows: slice });
  // Everything but the rows, with the widest chunk number; each row then adds its JSON and a comma.
  const budget = MAX_MESSAGE_BYTES - messageBytes(message(WIDEST_CHUNK_NUMBER, []));
  const chunks: ImportChunkMessage[] = [];
  let current: ImportRow[] = [];
  let bytes = 0;
  for (const [index, row] of rows.entries()) {
    const cost = (rowBytes?.[index] ?? utf8Bytes(JSON.stringify(row))) + 1;
    if (current.length > 0 && (current.length === MAX_ROWS_PER_CHUNK || bytes + cost > budget)) {
      chunks.push(message(chunks.length + 1, current));
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += cost;
  }
  if (current.length) chunks.push(message(chunks.length + 1, current));
  // The estimate above is an upper bound; this keeps an oversized chunk from ever being sent.
  for (const chunk of chunks) {
    if (messageBytes(chunk) > MAX_MESSAGE_BYTES) throw new Error(`import chunk ${chunk.chunk} is ${messageBytes(chunk)} bytes`);
  }
  return chunks;
}

/** The chunks grouped into sendBatch calls, in order; null when they need more calls than one request may make. */
export function planSendBatches(chunks: ImportChunkMessage[]): ImportChunkMessage[][] | null {
  const calls: ImportChunkMessage[][] = [];
  let current: ImportChunkMessage[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    const cost = messageBytes(chunk) + SEND_BATCH_OVERHEAD_PER_MESSAGE;
    if (current.length > 0 && (current.length === SEND_BATCH_MESSAGES || bytes + cost > SEND_BATCH_BYTES)) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(chunk);
    bytes += cost;
  }
  if (current.length) calls.push(current);
  return calls.length > MAX_SEND_BATCH_CALLS ? null : calls;
}
