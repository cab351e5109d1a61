import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newConnection, PATCH_OP, scim, USER_SCHEMA, GROUP_SCHEMA } from "../../support/scim-connection";

const T0 = Date.parse("2026-12-04T09:00:00Z");
const userBody = (userName: string) => ({ schemas: [USER_SCHEMA], userName, emails: [{ value: userName, type: "work", primary: true }], active: true });

describe("concurrent writes", () => {
  it("a PATCH racing a DELETE must not resurrect the deleted user", async () => {
    const conn = await newConnection("org_race", T0);
    const created = await scim(conn, () => T0, "POST", "/Users", userBody("race@example.com"));
    expect(created.status).toBe(201);
    const id = created.body.id;
    // DELETE at T0+1, a PATCH (read before the delete commits) at T0+2: both 2xx.
    const [del, patch] = await Promise.all([
      scim(conn, () => T0 + 1, "DELETE", `/Users/${id}`),
      scim(conn, () => T0 + 2, "PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "X" }] }),
    ]);
    const row = await env.DB.prepare("SELECT deleted_at, active FROM users WHERE provider = ? AND external_id = ?").bind(conn.provider, id).first();
    // The IdP was told the delete succeeded (204): the user must stay deleted.
    if (del.status === 204) expect(row!.deleted_at).not.toBeNull();
  });

  it("two PATCHes with the same If-Match must not both succeed", async () => {
    const conn = await newConnection("org_race2", T0);
    const created = await scim(conn, () => T0, "POST", "/Users", userBody("im@example.com"));
    const id = created.body.id;
    const etag = created.headers.get("etag")!;
    const [a, b] = await Promise.all([
      scim(conn, () => T0 + 1, "PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "A" }] }, { headers: { "if-match": etag } }),
      scim(conn, () => T0 + 1, "PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.familyName", value: "B" }] }, { headers: { "if-match": etag } }),
    ]);
    const row = await env.DB.prepare("SELECT first_name, last_name FROM users WHERE provider = ? AND external_id = ?").bind(conn.provider, id).first();
    expect([a.status, b.status].sort()).toEqual([200, 412]);
  });

  it("a group rename racing a group DELETE must not resurrect the group", async () => {
    const conn = await newConnection("org_race3", T0);
    const g = await scim(conn, () => T0, "POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Eng" });
    const id = g.body.id;
    const [del, patch] = await Promise.all([
      scim(conn, () => T0 + 1, "DELETE", `/Groups/${id}`),
      scim(conn, () => T0 + 2, "PATCH", `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "Eng2" }] }),
    ]);
    const row = await env.DB.prepare("SELECT deleted_at FROM groups WHERE provider = ? AND external_id = ?").bind(conn.provider, id).first();
    if (del.status === 204) expect(row!.deleted_at).not.toBeNull();
  });
});
