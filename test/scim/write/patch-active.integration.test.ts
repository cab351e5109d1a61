import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newConnection, PATCH_OP, scim, USER_SCHEMA } from "../../support/scim-connection";

const T0 = Date.parse("2026-12-04T09:00:00Z");

describe("reactivation on weak evidence", () => {
  for (const op of [
    { op: "remove", path: "active" },
    { op: "replace", path: "active", value: null },
    { op: "replace", value: { active: null } },
  ])
  it(`PATCH ${JSON.stringify(op)} must not reactivate a deactivated user`, async () => {
    const conn = await newConnection(`org_react_${Math.random()}`, T0);
    const u = await scim(conn, () => T0, "POST", "/Users", { schemas: [USER_SCHEMA], userName: "r@example.com", active: false });
    expect(u.body.active).toBe(false);
    const p = await scim(conn, () => T0 + 1, "PATCH", `/Users/${u.body.id}`, { schemas: [PATCH_OP], Operations: [op] });
    const row = await env.DB.prepare("SELECT active FROM users WHERE provider = ? AND external_id = ?").bind(conn.provider, u.body.id).first();
    expect(row!.active).toBe(0);
  });
});
