import { applyD1Migrations, env } from "cloudflare:test";
import { all, apply, rebuildBefore } from "../support/migrations";
import { beforeAll, describe, expect, it } from "vitest";
import { eventVersion } from "../../src/directory/version";
import { directorySnapshot, events } from "../support/directory";

/**
 * Migration 0004 (full-precision versions) on a database holding versions in the old
 * `<15-digit ms>|<id>` shape. Unmigrated, such a version sorts after every new version of the same
 * millisecond ('|' sorts after digits), so a newer event would lose to it.
 */

const MIGRATION = "0004_full_precision_versions.sql";
const old = (ms: number, id: string) => `${String(ms).padStart(15, "0")}|${id}`;


describe(`migration ${MIGRATION}`, () => {
  beforeAll(async () => {
    expect(env.TEST_MIGRATIONS.map((m) => m.name)).toContain(MIGRATION);
    await rebuildBefore(MIGRATION);
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO users (provider, external_id, first_name, created_at, updated_at, last_event_at, last_event_version) VALUES ('scalekit', 'u', 'Stored', 1, 1, 1000, ?)",
      ).bind(old(1000, "evt_m")),
      env.DB.prepare("INSERT INTO groups (provider, external_id, name, created_at, updated_at, last_event_at, last_event_version) VALUES ('scalekit', 'g', 'Stored', 1, 1, 1000, ?)").bind(
        old(1000, "evt_m"),
      ),
      env.DB.prepare(
        "INSERT INTO membership_versions (provider, group_external_id, user_external_id, added_at, removed_at, last_event_version) VALUES ('scalekit', 'g', 'u', 1000, NULL, ?)",
      ).bind(old(1000, "evt_m")),
      env.DB.prepare("INSERT INTO group_members (provider, group_external_id, user_external_id, added_at) VALUES ('scalekit', 'g', 'u', 1000)"),
      env.DB.prepare("INSERT INTO membership_resets (provider, subject, external_id, version) VALUES ('scalekit', 'group', 'g_gone', ?)").bind(old(1000, "evt_m")),
      env.DB.prepare("INSERT INTO reconcile_runs (id, provider, status, phase, trigger, started_at, updated_at) VALUES ('run', 'firstup', 'running', 'finish', 'test', 1, 1)"),
      env.DB.prepare("INSERT INTO reconcile_pending (run_id, external_id, action, record) VALUES ('run', 'x', 'deactivate', ?)").bind(JSON.stringify({ version: old(1000, "reconcile:run") })),
    ]);
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  });

  it("rewrites every stored version to the exact version it would have now", async () => {
    const migrated = eventVersion(1000, "evt_m");
    expect(await all("SELECT last_event_version AS v FROM users UNION ALL SELECT last_event_version FROM groups UNION ALL SELECT last_event_version FROM membership_versions UNION ALL SELECT version FROM membership_resets")).toEqual([
      { v: migrated },
      { v: migrated },
      { v: migrated },
      { v: migrated },
    ]);
    expect(await all("SELECT record ->> '$.version' AS v FROM reconcile_pending")).toEqual([{ v: eventVersion(1000, "reconcile:run") }]);
  });

  it("a newer event in the same millisecond replaces migrated state; an equal time still breaks ties by id", async () => {
    await apply(
      { ...events.userUpserted("u", 1000, { firstName: "Later by 1 µs" }, "evt_a"), occurredAtNanos: 1000 },
      { ...events.members("g", 1000, [], ["u"], "evt_b"), occurredAtNanos: 1000 },
      events.groupUpserted("g", 1000, "Same time, smaller id", "evt_0"),
    );
    const state = await directorySnapshot(env.DB);
    expect(state.users).toEqual([expect.objectContaining({ external_id: "u", first_name: "Later by 1 µs" })]);
    expect(state.members).toEqual([]);
    expect(state.groups).toEqual([expect.objectContaining({ external_id: "g", name: "Stored" })]);
  });
});
