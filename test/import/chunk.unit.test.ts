import { describe, expect, it } from "vitest";
import { chunkRows, planSendBatches } from "../../src/import/chunk";
import { MAX_ROW_BYTES, MAX_ROWS_PER_CHUNK, MAX_SEND_BATCH_CALLS, SEND_BATCH_BYTES, SEND_BATCH_MESSAGES, SEND_BATCH_OVERHEAD_PER_MESSAGE } from "../../src/import/limits";
import { parseImport } from "../../src/import/parse";
import type { ImportRow } from "../../src/import/row";
import { MAX_MESSAGE_BYTES, messageBytes, queueMessage } from "../../src/queue-message";
import { rowOfBytes } from "../support/import-rows";

const envelope = { receivedAt: 1_790_000_000_000, importId: "imp_0123456789abcdef01234567", provider: "import-org_1", organizationId: "org_1", directoryId: "dir_1" };
const rows = (count: number, make: (i: number) => Omit<ImportRow, "row" | "active">) => Array.from({ length: count }, (_, i) => ({ row: i + 1, active: true, ...make(i) }));

describe("chunkRows", () => {
  it("cuts many small rows into chunks of at most MAX_ROWS_PER_CHUNK rows, in file order, each a valid queue message", () => {
    const input = rows(1_234, (i) => ({ external_id: `u${i}`, email: `user${i}@example.com` }));
    const chunks = chunkRows(input, envelope);
    expect(chunks.map((chunk) => chunk.rows.length)).toEqual([...Array(12).fill(MAX_ROWS_PER_CHUNK), 34]);
    expect(chunks.map((chunk) => chunk.chunk)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(chunks.flatMap((chunk) => chunk.rows)).toEqual(input);
    for (const chunk of chunks) expect(queueMessage.safeParse(chunk).success).toBe(true);
  });

  it("never exceeds the message budget, counting UTF-8 bytes: one row at the row limit per chunk", () => {
    const parsed = parseImport(
      [1, 2, 3].map((row) => JSON.stringify(rowOfBytes(`u${row}`, row, MAX_ROW_BYTES))).join("\n"),
      "ndjson",
    );
    if (!parsed.ok) throw new Error(parsed.code);
    expect(parsed.invalid).toBe(0);
    expect(parsed.rowBytes).toEqual([MAX_ROW_BYTES, MAX_ROW_BYTES, MAX_ROW_BYTES]);
    // Two such rows do not fit one message: three chunks, each under the limit, yet well over half of it.
    const chunks = chunkRows(parsed.rows, envelope, parsed.rowBytes);
    expect(chunks.map((chunk) => chunk.rows.length)).toEqual([1, 1, 1]);
    for (const chunk of chunks) {
      expect(messageBytes(chunk)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(messageBytes(chunk)).toBeGreaterThan(MAX_ROW_BYTES);
    }
  });

  it("refuses one byte more than the row limit as row_too_large, and keeps the rows around it", () => {
    const lines = [rowOfBytes("u1", 1, MAX_ROW_BYTES - 1), rowOfBytes("u2", 2, MAX_ROW_BYTES + 1), { external_id: "u3" }];
    const parsed = parseImport(lines.map((line) => JSON.stringify(line)).join("\n"), "ndjson");
    expect(parsed).toMatchObject({ ok: true, invalid: 1, errors: [{ row: 2, line: 2, code: "row_too_large", field: null }] });
    if (parsed.ok) expect(parsed.rows.map((row) => row.external_id)).toEqual(["u1", "u3"]);
  });

  it("fills a chunk up to the byte budget when rows are large but under the limit", () => {
    const parsed = parseImport(Array.from({ length: 10 }, (_, i) => JSON.stringify(rowOfBytes(`u${i + 1}`, i + 1, 30_000))).join("\n"), "ndjson");
    if (!parsed.ok) throw new Error(parsed.code);
    const chunks = chunkRows(parsed.rows, envelope, parsed.rowBytes);
    // 3 rows of 30 KB fit 100 KiB with the envelope; 4 do not.
    expect(chunks.map((chunk) => chunk.rows.length)).toEqual([3, 3, 3, 1]);
    for (const chunk of chunks) expect(messageBytes(chunk)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });
});

describe("planSendBatches", () => {
  it("groups chunks into calls of at most 100 messages and 256 KB, in order", () => {
    const small = chunkRows(rows(30_000, (i) => ({ external_id: `u${i}` })), envelope);
    const calls = planSendBatches(small);
    if (!calls) throw new Error("over budget");
    expect(calls.flat()).toEqual(small);
    for (const call of calls) {
      expect(call.length).toBeLessThanOrEqual(SEND_BATCH_MESSAGES);
      expect(call.reduce((sum, chunk) => sum + messageBytes(chunk) + SEND_BATCH_OVERHEAD_PER_MESSAGE, 0)).toBeLessThanOrEqual(SEND_BATCH_BYTES);
    }
    // Small chunks: the byte limit, not the message count, decides (each is about 4 KB).
    expect(calls.length).toBeGreaterThan(1);
  });

  it("returns null when the chunks need more calls than one request may make", () => {
    // Rows at the row limit: one a chunk, three chunks a call.
    const big = Array.from({ length: MAX_SEND_BATCH_CALLS * 3 + 1 }, (_, i) => ({ ...rowOfBytes(`u${i}`, i + 1, MAX_ROW_BYTES), row: i + 1, active: true }));
    expect(planSendBatches(chunkRows(big, envelope))).toBeNull();
    expect(planSendBatches(chunkRows(big.slice(0, MAX_SEND_BATCH_CALLS * 3), envelope))).toHaveLength(MAX_SEND_BATCH_CALLS);
  });
});
