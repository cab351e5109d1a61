import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newConnection, PATCH_OP, scim, USER_SCHEMA, GROUP_SCHEMA, membersOfProvider } from "../../support/scim-connection";

const T0 = Date.parse("2026-12-04T09:00:00Z");

describe("membership granted to a user deleted concurrently", () => {
  for (const ticks of [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20])
  it(`a group PATCH add racing the member's DELETE must not leave a membership for the deleted user (${ticks})`, async () => {
    const conn = await newConnection(`org_race4_${ticks}`, T0);
    const u = await scim(conn, () => T0, "POST", "/Users", { schemas: [USER_SCHEMA], userName: "m@example.com" });
    const g = await scim(conn, () => T0, "POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Admins" });
    const patchP = scim(conn, () => T0 + 2, "PATCH", `/Groups/${g.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: u.body.id }] }] });
    for (let i = 0; i < ticks; i++) await new Promise((r) => setTimeout(r, 0));
    const [del, patch] = await Promise.all([scim(conn, () => T0 + 1, "DELETE", `/Users/${u.body.id}`), patchP]);
    const members = await membersOfProvider(conn.provider);
    const user = await env.DB.prepare("SELECT deleted_at FROM users WHERE provider = ? AND external_id = ?").bind(conn.provider, u.body.id).first();
    const shown = await scim(conn, () => T0 + 3, "GET", `/Groups/${g.body.id}`);
    if (del.status === 204) expect(members).toEqual([]);
  });
});
