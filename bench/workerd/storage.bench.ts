import { env } from "cloudflare:test";
import { it } from "vitest";
import { deliverBatch } from "../../test/support/consumer";
import { signedHeaders } from "../../test/support/sign";
import { scalekitEvent, scalekitUser } from "../../test/support/scalekit";
import { callApp } from "../../test/support/worker";
import { report } from "./measure";

/**
 * D1 bytes stored per applied event, for retention's steady state (README, "Retention"). A
 * directory of USERS users is created first (the directory is as big as the directory, not the
 * event count, so it is left out); then EVENTS signed `user_updated` deliveries go through the
 * Worker and the real consumer (batches of 100), and the database grows by what events leave
 * behind: the event log, the processed ids, the change feed, their indexes.
 *
 * The size is D1's own: `meta.size_after` of a query, the database file in bytes (pages in use and
 * free), which is what D1's 10 GB limit counts. `PRAGMA page_count` is refused by D1
 * (SQLITE_AUTH), so the per-table breakdown is rows and the sum of `length()` of their columns:
 * payload, without indexes or page overhead.
 */

const USERS = 500;
const EVENTS = 2_000;
const BATCH = 100;

async function ingest(deliveries: { id: string; given: string }[]) {
  const sent: unknown[] = [];
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  for (const { id, given } of deliveries) {
    const body = JSON.stringify(scalekitEvent("user_updated", scalekitUser({ id, given_name: given, email: `${id}@company.com` })));
    const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body, headers: await signedHeaders(body) }), {
      EVENTS_QUEUE: queue,
      DEDUPE_KV: "off",
    });
    if (response.status !== 202) throw new Error(`unexpected ${response.status}`);
  }
  for (let i = 0; i < sent.length; i += BATCH) {
    const { result } = await deliverBatch(sent.slice(i, i + BATCH));
    if (result.retryMessages.length) throw new Error("batch failed");
  }
}

const databaseBytes = async () => (await env.DB.prepare("SELECT 1").run()).meta.size_after;

/** Rows and payload bytes (sum of length() of every column) of every table. */
async function tables(): Promise<Map<string, { rows: number; payload: number }>> {
  const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'").all<{ name: string }>();
  const sizes = new Map<string, { rows: number; payload: number }>();
  for (const { name } of results) {
    const columns = (await env.DB.prepare(`PRAGMA table_info("${name}")`).all<{ name: string }>()).results.map((column) => `coalesce(length("${column.name}"), 0)`);
    const row = await env.DB.prepare(`SELECT count(*) AS rows, coalesce(sum(${columns.join(" + ") || "0"}), 0) AS payload FROM "${name}"`).first<{ rows: number; payload: number }>();
    sizes.set(name, row ?? { rows: 0, payload: 0 });
  }
  return sizes;
}

it("bytes stored per applied event", async () => {
  const ids = Array.from({ length: USERS }, (_, i) => `user_storage_${String(i).padStart(4, "0")}`);
  await ingest(ids.map((id) => ({ id, given: "Initial" })));
  const bytesBefore = await databaseBytes();
  const tablesBefore = await tables();

  await ingest(Array.from({ length: EVENTS }, (_, i) => ({ id: ids[i % USERS]!, given: `Given ${i}` })));
  const bytesAfter = await databaseBytes();
  const tablesAfter = await tables();

  const perTable = [...tablesAfter]
    .map(([name, after]) => {
      const before = tablesBefore.get(name) ?? { rows: 0, payload: 0 };
      return { table: name, rowsPerEvent: (after.rows - before.rows) / EVENTS, payloadBytesPerEvent: (after.payload - before.payload) / EVENTS };
    })
    .filter((row) => row.rowsPerEvent !== 0 || row.payloadBytesPerEvent !== 0);
  await report("storage", { users: USERS, events: EVENTS, bytesPerEvent: (bytesAfter - bytesBefore) / EVENTS, databaseBytes: { before: bytesBefore, after: bytesAfter }, perTable });
}, 300_000);
