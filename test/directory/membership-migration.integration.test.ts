import { applyD1Migrations, env } from "cloudflare:test";
import { all, apply, rebuildBefore } from "../support/migrations";
import { beforeAll, describe, expect, it } from "vitest";
import { eventVersion } from "../../src/directory/version";
import { events } from "../support/directory";

/**
 * Migration 0003 (current memberships) on a database holding the old shape: group_members rows
 * with tombstones, and reset versions on users and groups. The file's database is rebuilt from
 * migrations 0000-0002, filled the old way, then migrated with the real migration file.
 */

const MIGRATION = "0003_current_memberships.sql";
const v = (at: number, id: string) => eventVersion(at, id);


describe(`migration ${MIGRATION}`, () => {
  beforeAll(async () => {
    expect(env.TEST_MIGRATIONS.map((m) => m.name)).toContain(MIGRATION);
    await rebuildBefore(MIGRATION);
    const synced = (table: string, id: string, reset: string | null) =>
      env.DB.prepare(
        `INSERT INTO ${table} (provider, external_id, created_at, updated_at, last_event_at, last_event_version, memberships_reset_version) VALUES ('scalekit', ?, 1, 1, 1, ?, ?)`,
      ).bind(id, v(1, `c_${id}`), reset);
    const member = (group: string, user: string, addedAt: number | null, removedAt: number | null, version: string) =>
      env.DB.prepare("INSERT INTO group_members (provider, group_external_id, user_external_id, added_at, removed_at, last_event_version) VALUES ('scalekit', ?, ?, ?, ?, ?)").bind(
        group,
        user,
        addedAt,
        removedAt,
        version,
      );
    await env.DB.batch([
      synced("users", "u_member", null),
      synced("users", "u_left", null),
      synced("users", "u_deleted", v(400, "del_u")),
      synced("groups", "g", null),
      synced("groups", "g_deleted", v(500, "del_g")),
      member("g", "u_member", 100, null, v(100, "add")),
      member("g", "u_left", 100, 200, v(200, "remove")),
      member("g", "u_deleted", 100, 400, v(100, "add")),
    ]);
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  });

  it("group_members keeps only current members, in the new shape", async () => {
    expect(await all("SELECT * FROM group_members ORDER BY user_external_id")).toEqual([
      { provider: "scalekit", group_external_id: "g", user_external_id: "u_member", added_at: 100 },
    ]);
  });

  it("every pair's version, and every reset version, moved to the bookkeeping tables", async () => {
    expect(await all("SELECT * FROM membership_versions ORDER BY user_external_id")).toEqual([
      { provider: "scalekit", group_external_id: "g", user_external_id: "u_deleted", added_at: 100, removed_at: 400, last_event_version: v(100, "add") },
      { provider: "scalekit", group_external_id: "g", user_external_id: "u_left", added_at: 100, removed_at: 200, last_event_version: v(200, "remove") },
      { provider: "scalekit", group_external_id: "g", user_external_id: "u_member", added_at: 100, removed_at: null, last_event_version: v(100, "add") },
    ]);
    expect(await all("SELECT * FROM membership_resets ORDER BY subject, external_id")).toEqual([
      { provider: "scalekit", subject: "group", external_id: "g_deleted", version: v(500, "del_g") },
      { provider: "scalekit", subject: "user", external_id: "u_deleted", version: v(400, "del_u") },
    ]);
    const columns = async (table: string) => (await all(`SELECT name FROM pragma_table_info('${table}')`)).map((row) => row.name);
    expect(await columns("users")).not.toContain("memberships_reset_version");
    expect(await columns("groups")).not.toContain("memberships_reset_version");
  });

  it("the migrated bookkeeping still refuses late adds and accepts newer ones", async () => {
    await apply(
      events.members("g", 150, ["u_left"]), // older than the migrated removal
      events.members("g", 300, ["u_deleted"]), // older than the migrated user delete
      events.members("g_deleted", 450, ["u_member"]), // older than the migrated group delete
    );
    expect(await all("SELECT user_external_id FROM group_members ORDER BY user_external_id")).toEqual([{ user_external_id: "u_member" }]);
    await apply(events.members("g", 600, ["u_left", "u_deleted"]));
    expect(await all("SELECT user_external_id FROM group_members WHERE group_external_id = 'g' ORDER BY user_external_id")).toEqual([
      { user_external_id: "u_deleted" },
      { user_external_id: "u_left" },
      { user_external_id: "u_member" },
    ]);
  });
});
