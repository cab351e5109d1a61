import { applyD1Migrations, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { rebuildBefore } from "../support/migrations";
import { callApp } from "../support/worker";

/**
 * Migration 0010 (fewer rows written per event) on a database as 0009 left it: processed_events
 * merged into event_log, reconciliation claims moved to work_claims, and a change feed that
 * retention had emptied under AUTOINCREMENT, whose next seq must still come after every seq a
 * reader or the relay has seen.
 */

const MIGRATION = "0010_lean_rows.sql";

describe(`migration ${MIGRATION}`, () => {
  beforeAll(async () => {
    await rebuildBefore(MIGRATION);
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO changes (type, provider, subject, cause, source, data, occurred_at, recorded_at)
         VALUES ('user.created','p','u1','e','webhook','{}',0,0), ('user.created','p','u2','e','webhook','{}',0,0), ('user.created','p','u3','e','webhook','{}',0,0)`,
      ),
      // Retention before 0010 deleted every expired change, the newest too.
      env.DB.prepare("DELETE FROM changes"),
      env.DB.prepare("INSERT INTO feed_state (key, value) VALUES ('pruned_through', 3), ('relayed_through', 3)"),
      env.DB.prepare(
        `INSERT INTO event_log (provider, event_id, source_type, status, received_at, updated_at)
         VALUES ('p', 'applied_1', 't', 'applied', 0, 0), ('p', 'failed_then_applied', 't', 'failed', 0, 0), ('p', 'held_1', 't', 'held', 0, 0)`,
      ),
      env.DB.prepare("INSERT INTO processed_events (provider, event_id, processed_at) VALUES ('p', 'applied_1', 1), ('p', 'failed_then_applied', 1), ('reconcile', 'run1:scan:0', 1)"),
    ]);
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  });

  it("an event processed_events recorded is applied in event_log; the rest keep their status", async () => {
    const rows = (await env.DB.prepare("SELECT event_id, status FROM event_log WHERE provider = 'p' ORDER BY event_id").all<{ event_id: string; status: string }>()).results;
    expect(rows).toEqual([
      { event_id: "applied_1", status: "applied" },
      { event_id: "failed_then_applied", status: "applied" },
      { event_id: "held_1", status: "held" },
    ]);
  });

  it("reconciliation claims move to work_claims, events do not", async () => {
    const claims = (await env.DB.prepare("SELECT scope, key FROM work_claims").all<{ scope: string; key: string }>()).results;
    expect(claims).toEqual([{ scope: "reconcile", key: "run1:scan:0" }]);
  });

  it("a feed emptied by retention keeps its high-water mark: the next change comes after it and the marker is never shown", async () => {
    await env.DB.prepare(
      "INSERT INTO changes (type, provider, subject, cause, source, data, occurred_at, recorded_at) VALUES ('user.created','p','u4','e','webhook','{\"user\":{\"id\":\"u4\"}}',0,0)",
    ).run();
    const seq = (await env.DB.prepare("SELECT seq FROM changes WHERE subject = 'u4'").first<{ seq: number }>())?.seq;
    expect(seq).toBe(4);
    const response = await callApp(new Request("https://sync.example/v1/changes?after=3", { headers: { authorization: "Bearer test-admin-token" } }));
    const body = (await response.json()) as { changes: { seq: number; type: string }[] };
    expect(body.changes.map((change) => [change.seq, change.type])).toEqual([[4, "user.created"]]);
    const marker = await env.DB.prepare("SELECT count(*) AS n FROM changes WHERE type = 'feed.high_water'").first<{ n: number }>();
    expect(marker?.n).toBe(1);
  });
});
