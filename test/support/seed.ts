import { env } from "cloudflare:test";
import { deliverBatch } from "./consumer";
import { eventMessage, events } from "./directory";

/**
 * A small Scalekit directory applied through the real consumer:
 * alice (Admins, Engineering), bob (Engineering), carol (inactive), dave (deleted), erin (org_2).
 */
export async function seedDirectory() {
  await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM work_claims; DELETE FROM event_log;");
  const t = Date.parse("2026-01-01T00:00:00Z");
  const batch = [
    events.userUpserted("alice", t, { email: "Alice@Example.com", firstName: "Alice" }),
    events.userUpserted("bob", t + 1, { email: "bob@example.com", firstName: "Bob" }),
    events.userUpserted("carol", t + 2, { email: "carol@example.com", firstName: "Carol", active: false }),
    events.userUpserted("dave", t + 3, { email: "dave@example.com", firstName: "Dave" }),
    { ...events.userUpserted("erin", t + 4, { email: "erin+tag@example.com", firstName: "Erin" }), user: { ...(events.userUpserted("erin", t + 4, { email: "erin+tag@example.com", firstName: "Erin" }) as { user: object }).user, organizationId: "org_2" } },
    events.groupUpserted("grp_admins", t, "Admins"),
    events.groupUpserted("grp_eng", t, "Engineering"),
    events.members("grp_admins", t + 10, ["alice"]),
    events.members("grp_eng", t + 10, ["alice", "bob", "dave"]),
    events.userDeleted("dave", t + 20),
  ];
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event as never)));
  if (result.retryMessages.length) throw new Error("seeding failed");
}

export const ADMIN = { authorization: "Bearer test-admin-token" };
