import { env } from "cloudflare:test";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "./consumer";
import { eventMessage, events } from "./directory";

/**
 * Two tenants in one directory, plus rows with no organization, applied through the real consumer.
 * Every id, email and organization outside tenant A carries a marker ("orgb_", "noorg_",
 * "tenant_b") that a tenant-A reader must never see in any response.
 *
 * - tenant_a: orga_alice (orga_admins "Admins", orga_eng), orga_bob (orga_eng, noorg_group),
 *   orga_cross (a member of tenant B's orgb_admins), orga_erin (orga_eng2, also named "Engineering")
 * - tenant_b: orgb_carol (orgb_admins "Admins"), orgb_dan (a member of tenant A's orga_eng)
 * - no organization: noorg_nobody (a member of orga_eng), noorg_group "Admins" (orga_bob, noorg_nobody)
 */
export const FOREIGN_MARKERS = ["orgb_", "noorg_", "tenant_b"];

export const TENANT_A_USERS = ["orga_alice", "orga_bob", "orga_cross", "orga_erin"];
export const TENANT_A_GROUPS = ["orga_admins", "orga_eng", "orga_eng2"];
export const ALL_USERS = [...TENANT_A_USERS, "orgb_carol", "orgb_dan", "noorg_nobody"];
export const ALL_GROUPS = [...TENANT_A_GROUPS, "orgb_admins", "noorg_group"];

const t = Date.parse("2026-03-01T00:00:00Z");

function user(externalId: string, organizationId: string | null, directoryId: string | null): DirectoryEvent {
  const event = events.userUpserted(externalId, t, { email: `${externalId}@example.com`, firstName: externalId });
  return { ...event, user: { ...(event as { user: object }).user, organizationId, directoryId } } as DirectoryEvent;
}

function group(externalId: string, name: string, organizationId: string | null, directoryId: string | null): DirectoryEvent {
  return { ...events.groupUpserted(externalId, t, name), group: { externalId, name, organizationId, directoryId } } as DirectoryEvent;
}

export async function seedTenants() {
  await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM work_claims; DELETE FROM event_log;");
  const batch: DirectoryEvent[] = [
    user("orga_alice", "tenant_a", "dir_a"),
    user("orga_bob", "tenant_a", "dir_a"),
    user("orga_cross", "tenant_a", "dir_a"),
    user("orga_erin", "tenant_a", "dir_a"),
    user("orgb_carol", "tenant_b", "dir_b"),
    user("orgb_dan", "tenant_b", "dir_b"),
    user("noorg_nobody", null, null),
    group("orga_admins", "Admins", "tenant_a", "dir_a"),
    group("orga_eng", "Engineering", "tenant_a", "dir_a"),
    group("orga_eng2", "Engineering", "tenant_a", "dir_a"),
    group("orgb_admins", "Admins", "tenant_b", "dir_b"),
    group("noorg_group", "Admins", null, null),
    events.members("orga_admins", t + 10, ["orga_alice"]),
    events.members("orga_eng", t + 10, ["orga_alice", "orga_bob", "orgb_dan", "noorg_nobody"]),
    events.members("orga_eng2", t + 10, ["orga_erin"]),
    events.members("orgb_admins", t + 10, ["orgb_carol", "orga_cross"]),
    events.members("noorg_group", t + 10, ["orga_bob", "noorg_nobody"]),
  ];
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
  if (result.retryMessages.length) throw new Error("seeding failed");
}
