import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import * as contract from "../../src/http/openapi-scim-connections";
import { authenticateConnection, createConnection, DEFAULT_ROTATION_GRACE_MS, rotateConnectionToken } from "../../src/scim/connections";
import { ERROR, expectScimError } from "../support/scim-conformance";
import { callApp } from "../support/worker";

/**
 * SCIM connections (src/scim/connections.ts): created, listed, rotated and disabled through
 * /admin/scim-connections, and authenticated by connectionAuth (src/http/connection-auth.ts) on
 * /scim/v2/connections/:id/ServiceProviderConfig, end to end through the app with an injected clock.
 */

const ORIGIN = "https://sync.example.com";
const ADMIN = { authorization: "Bearer test-admin-token" };
const READ_TOKENS = "read-token";
const HOUR = 60 * 60 * 1000;
const T0 = Date.parse("2026-12-01T09:00:00Z");

let clock = T0;
const call = (path: string, init: RequestInit = {}) => callApp(new Request(ORIGIN + path, init), { READ_TOKENS }, { now: () => clock });

type ConnectionJson = { id: string; organization_id: string; name: string | null; provider: string; base_url: string; status: string; previous_token_expires_at: string | null };
type Created = { connection: ConnectionJson; base_url: string; token: string };
type Rotated = { connection: ConnectionJson; token: string; previous_token_expires_at: string | null };

async function create(organizationId = "org_acme", name?: string): Promise<Created> {
  const response = await call("/admin/scim-connections", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify({ organization_id: organizationId, name }) });
  expect(response.status).toBe(201);
  const body = (await response.json()) as Created;
  expect(contract.createScimConnection.responses[201].content["application/json"].schema.safeParse(body).error?.issues).toBeUndefined();
  return body;
}

async function rotate(id: string, query = ""): Promise<Rotated> {
  const response = await call(`/admin/scim-connections/${id}/rotate${query}`, { method: "POST", headers: ADMIN });
  expect(response.status).toBe(200);
  return (await response.json()) as Rotated;
}

/** GET ServiceProviderConfig on a connection's base URL with a bearer token (null: no header). */
function discover(baseUrl: string, token: string | null, authorization = token === null ? undefined : `Bearer ${token}`) {
  return callApp(new Request(`${baseUrl}/ServiceProviderConfig`, { headers: authorization === undefined ? {} : { authorization } }), { READ_TOKENS }, { now: () => clock });
}

const status = async (baseUrl: string, token: string | null) => {
  const response = await discover(baseUrl, token);
  await response.body?.cancel();
  return response.status;
};

async function sha256Hex(text: string) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

const storedRow = (id: string) => env.DB.prepare("SELECT * FROM scim_connections WHERE id = ?").bind(id).first<Record<string, unknown>>();

beforeEach(async () => {
  clock = T0;
  await env.DB.exec("DELETE FROM scim_connections");
});

describe("creating a connection", () => {
  it("returns the base URL and a token once, and stores only the token's SHA-256", async () => {
    const created = await create("org_acme", "Okta production");
    expect(created.base_url).toBe(`${ORIGIN}/scim/v2/connections/${created.connection.id}`);
    expect(created.connection).toMatchObject({ organization_id: "org_acme", name: "Okta production", status: "active", provider: `scim-${created.connection.id}`, base_url: created.base_url });
    expect(created.connection.id).toMatch(/^scn_[0-9a-f]{24}$/);
    // 32 random bytes, base64url.
    expect(created.token).toMatch(/^scimtok_[A-Za-z0-9_-]{43}$/);

    const row = await storedRow(created.connection.id);
    expect(row?.token_hash).toBe(await sha256Hex(created.token));
    // The scan that proves the plaintext is absent finds the hash, so it reads the right row.
    const everything = JSON.stringify((await env.DB.prepare("SELECT * FROM scim_connections").all()).results);
    expect(everything).toContain(await sha256Hex(created.token));
    expect(everything).not.toContain(created.token);
    expect(everything).not.toContain(created.token.slice("scimtok_".length));

    // Never shown again: not by the single read, not by the list.
    for (const path of [`/admin/scim-connections/${created.connection.id}`, "/admin/scim-connections"]) {
      const text = await (await call(path, { headers: ADMIN })).text();
      expect(text).toContain(created.connection.id);
      expect(text).not.toContain(created.token);
      expect(text).not.toContain(String(row?.token_hash));
    }
  });

  it("gives every connection its own id, token and provider namespace", async () => {
    const a = await create();
    const b = await create();
    expect(new Set([a.connection.id, b.connection.id]).size).toBe(2);
    expect(a.token).not.toBe(b.token);
    expect(a.connection.provider).not.toBe(b.connection.provider);
    // SCIM ids on /scim/v2 are `provider:external_id`, split on the first ':'.
    expect(a.connection.provider).not.toContain(":");
  });

  it.each([
    ["no organization_id", { name: "x" }],
    ["an empty organization_id", { organization_id: "" }],
    ["an unknown field", { organization_id: "org_acme", token: "mine" }],
  ])("refuses %s with 400 invalid_body", async (_, body) => {
    const response = await call("/admin/scim-connections", { method: "POST", headers: ADMIN, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_body" });
    expect((await env.DB.prepare("SELECT count(*) AS n FROM scim_connections").first<{ n: number }>())?.n).toBe(0);
  });
});

describe("authenticating on the connection's base URL", () => {
  it("accepts the connection's token and serves its ServiceProviderConfig", async () => {
    const { base_url, token, connection } = await create();
    const response = await discover(base_url, token);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/scim+json");
    expect(await response.json()).toMatchObject({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      authenticationSchemes: [{ type: "oauthbearertoken" }],
      meta: { resourceType: "ServiceProviderConfig", location: `${base_url}/ServiceProviderConfig` },
    });
    // The use is recorded (at most once a minute).
    expect((await storedRow(connection.id))?.last_used_at).toBe(T0);
  });

  it.each([
    ["no Authorization header", null],
    ["an empty bearer", "Bearer "],
    ["the bare scheme", "Bearer"],
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["a malformed token", "Bearer not a token"],
    ["a wrong token", "Bearer scimtok_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["the admin token", "Bearer test-admin-token"],
    ["a read token", `Bearer ${READ_TOKENS}`],
  ])("refuses %s: 401, a Bearer challenge and a SCIM error", async (_, authorization) => {
    const { base_url, token } = await create();
    const response = await discover(base_url, null, authorization ?? undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(response.headers.get("content-type")).toBe("application/scim+json");
    const body = (await response.json()) as Record<string, unknown>;
    expectScimError(body, 401);
    expect(body).toEqual({ schemas: [ERROR], status: "401", detail: expect.any(String) });
    // Prefixes and extensions of the real token are not it either.
    for (const near of [token.slice(0, -1), `${token}A`, token.toUpperCase()]) expect(await status(base_url, near), near).toBe(401);
  });

  it("a token reaches only its own connection: A's token is refused on B's URL, and B's on A's", async () => {
    const a = await create("org_acme");
    const b = await create("org_acme");
    const other = await create("org_globex");
    expect(await status(a.base_url, a.token)).toBe(200);
    expect(await status(b.base_url, b.token)).toBe(200);
    expect(await status(b.base_url, a.token)).toBe(401);
    expect(await status(a.base_url, b.token)).toBe(401);
    expect(await status(a.base_url, other.token)).toBe(401);
    expect(await status(other.base_url, a.token)).toBe(401);
  });

  it("a disabled connection refuses its token, with the same answer as an unknown connection or a wrong token", async () => {
    const { base_url, token, connection } = await create();
    expect(await status(base_url, token)).toBe(200);
    const disabled = await call(`/admin/scim-connections/${connection.id}/disable`, { method: "POST", headers: ADMIN });
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ id: connection.id, status: "disabled", disabled_at: new Date(T0).toISOString() });

    const answers = await Promise.all([
      discover(base_url, token),
      discover(`${ORIGIN}/scim/v2/connections/scn_000000000000000000000000`, token),
      discover(`${ORIGIN}/scim/v2/connections/not-an-id`, token),
      discover((await create()).base_url, "scimtok_wrong"),
    ]);
    const seen = await Promise.all(answers.map(async (response) => ({ status: response.status, challenge: response.headers.get("www-authenticate"), body: await response.text() })));
    expect(seen[0]!.status).toBe(401);
    for (const answer of seen) expect(answer).toEqual(seen[0]);
  });

  it("disabling is idempotent and ends a rotation's grace too; a disabled connection cannot be rotated", async () => {
    const { base_url, token, connection } = await create();
    const rotated = await rotate(connection.id);
    await call(`/admin/scim-connections/${connection.id}/disable`, { method: "POST", headers: ADMIN });
    clock += 1000;
    const again = await call(`/admin/scim-connections/${connection.id}/disable`, { method: "POST", headers: ADMIN });
    expect(await again.json()).toMatchObject({ status: "disabled", disabled_at: new Date(T0).toISOString(), previous_token_expires_at: null });
    expect(await status(base_url, token)).toBe(401);
    expect(await status(base_url, rotated.token)).toBe(401);
    const refused = await call(`/admin/scim-connections/${connection.id}/rotate`, { method: "POST", headers: ADMIN });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: "connection_disabled" });
  });

  it("an unknown path under a connection is a 401 without its token, a SCIM 404 with it", async () => {
    const { base_url, token } = await create();
    const anonymous = await callApp(new Request(`${base_url}/Users`), {}, { now: () => clock });
    expect(anonymous.status).toBe(401);
    const known = await callApp(new Request(`${base_url}/Nope`, { headers: { authorization: `Bearer ${token}` } }), {}, { now: () => clock });
    expect(known.status).toBe(404);
    expectScimError((await known.json()) as Record<string, unknown>, 404);
  });
});

describe("rotating a token", () => {
  it("keeps both tokens valid until the grace ends (24 hours by default), then only the new one", async () => {
    const { base_url, token: first, connection } = await create();
    clock = T0 + HOUR;
    const rotated = await rotate(connection.id);
    expect(rotated.token).not.toBe(first);
    expect(rotated.previous_token_expires_at).toBe(new Date(T0 + HOUR + DEFAULT_ROTATION_GRACE_MS).toISOString());
    expect(rotated.connection.previous_token_expires_at).toBe(rotated.previous_token_expires_at);
    expect((await storedRow(connection.id))?.token_hash).toBe(await sha256Hex(rotated.token));

    expect(await status(base_url, first)).toBe(200);
    expect(await status(base_url, rotated.token)).toBe(200);
    clock = T0 + HOUR + DEFAULT_ROTATION_GRACE_MS - 1;
    expect(await status(base_url, first)).toBe(200);
    clock = T0 + HOUR + DEFAULT_ROTATION_GRACE_MS;
    expect(await status(base_url, first)).toBe(401);
    expect(await status(base_url, rotated.token)).toBe(200);
    const shown = (await (await call(`/admin/scim-connections/${connection.id}`, { headers: ADMIN })).json()) as ConnectionJson;
    expect(shown.previous_token_expires_at).toBeNull();
  });

  it("a second rotation ends the first one's grace at once: only the last two tokens are live", async () => {
    const { base_url, token: first, connection } = await create();
    const second = await rotate(connection.id);
    clock += 10 * 1000;
    const third = await rotate(connection.id);
    expect(await status(base_url, first)).toBe(401);
    expect(await status(base_url, second.token)).toBe(200);
    expect(await status(base_url, third.token)).toBe(200);
    expect(third.previous_token_expires_at).toBe(new Date(clock + DEFAULT_ROTATION_GRACE_MS).toISOString());
  });

  it("grace_seconds sets the grace; 0 revokes the old token at once", async () => {
    const { base_url, token: first, connection } = await create();
    const short = await rotate(connection.id, "?grace_seconds=60");
    expect(short.previous_token_expires_at).toBe(new Date(T0 + 60_000).toISOString());
    clock = T0 + 59_999;
    expect(await status(base_url, first)).toBe(200);
    clock = T0 + 60_000;
    expect(await status(base_url, first)).toBe(401);

    const now = await rotate(connection.id, "?grace_seconds=0");
    expect(now.previous_token_expires_at).toBeNull();
    expect(await status(base_url, short.token)).toBe(401);
    expect(await status(base_url, now.token)).toBe(200);
  });

  it.each(["?grace_seconds=-1", "?grace_seconds=604801", "?grace_seconds=1.5", "?grace_seconds=soon"])("refuses %s with 400", async (query) => {
    const { connection } = await create();
    const response = await call(`/admin/scim-connections/${connection.id}/rotate${query}`, { method: "POST", headers: ADMIN });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_query" });
  });

  it("two concurrent rotations leave exactly two live tokens", async () => {
    const issued = await createConnection(env.DB, { organizationId: "org_acme", name: null }, T0);
    const [r1, r2] = await Promise.all([rotateConnectionToken(env.DB, issued.connection.id, { now: T0 }), rotateConnectionToken(env.DB, issued.connection.id, { now: T0 })]);
    if (!r1?.ok || !r2?.ok) throw new Error("rotation failed");
    const live = [];
    for (const token of [issued.token, r1.issued.token, r2.issued.token]) {
      if ((await authenticateConnection(env.DB, issued.connection.id, token, T0 + 1)).ok) live.push(token);
    }
    expect(live).toHaveLength(2);
    expect(live).not.toContain(issued.token);
  });

  it("rotating an unknown connection is 404", async () => {
    const response = await call("/admin/scim-connections/scn_000000000000000000000000/rotate", { method: "POST", headers: ADMIN });
    expect(response.status).toBe(404);
  });
});

describe("authenticateConnection", () => {
  it("says which token matched, and why one was refused (for logs; the HTTP answer is the same)", async () => {
    const a = await createConnection(env.DB, { organizationId: "org_acme", name: null }, T0);
    const b = await createConnection(env.DB, { organizationId: "org_acme", name: null }, T0);
    const rotated = await rotateConnectionToken(env.DB, a.connection.id, { now: T0 });
    if (!rotated.ok) throw new Error("rotation failed");
    expect(await authenticateConnection(env.DB, a.connection.id, rotated.issued.token, T0)).toMatchObject({ ok: true, matched: "current", connection: { id: a.connection.id } });
    expect(await authenticateConnection(env.DB, a.connection.id, a.token, T0)).toMatchObject({ ok: true, matched: "previous" });
    expect(await authenticateConnection(env.DB, a.connection.id, b.token, T0)).toEqual({ ok: false, reason: "invalid_token" });
    expect(await authenticateConnection(env.DB, a.connection.id, "", T0)).toEqual({ ok: false, reason: "invalid_token" });
    expect(await authenticateConnection(env.DB, "scn_000000000000000000000000", a.token, T0)).toEqual({ ok: false, reason: "unknown_connection" });
    expect(await authenticateConnection(env.DB, "'; DROP TABLE scim_connections; --", a.token, T0)).toEqual({ ok: false, reason: "unknown_connection" });
  });
});

describe("the admin routes", () => {
  it("follow the list with cursors to the end, filtered by organization", async () => {
    const acme = [];
    for (let i = 0; i < 5; i++) acme.push((await create("org_acme")).connection.id);
    const globex = [(await create("org_globex")).connection.id];
    const walk = async (query: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const response = await call(`/admin/scim-connections?limit=2${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers: ADMIN });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { connections: ConnectionJson[]; next_cursor: string | null };
        expect(contract.listScimConnections.responses[200].content["application/json"].schema.safeParse(body).error?.issues).toBeUndefined();
        expect(body.connections.length).toBeLessThanOrEqual(2);
        ids.push(...body.connections.map((connection) => connection.id));
        cursor = body.next_cursor;
        if (cursor === null) return ids;
      }
      throw new Error("the walk did not end");
    };
    expect(await walk("")).toEqual([...acme, ...globex].sort());
    expect(await walk("&organization_id=org_acme")).toEqual([...acme].sort());
    expect(await walk("&organization_id=org_none")).toEqual([]);
    for (const query of ["?limit=0", "?limit=201", "?cursor=garbage"]) expect((await call(`/admin/scim-connections${query}`, { headers: ADMIN })).status, query).toBe(400);
  });

  it("answer 404 for an unknown connection", async () => {
    for (const [method, path] of [["GET", ""], ["POST", "/disable"], ["POST", "/rotate"]] as const) {
      const response = await call(`/admin/scim-connections/scn_000000000000000000000000${path}`, { method, headers: ADMIN });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await response.json()).toMatchObject({ error: "not_found" });
    }
  });

  it("are admin-only: a read token gets 403, no token 401, and nothing changes", async () => {
    const { connection, base_url, token } = await create();
    const before = await storedRow(connection.id);
    const routes = [
      ["POST", "/admin/scim-connections", JSON.stringify({ organization_id: "org_acme" })],
      ["GET", "/admin/scim-connections", undefined],
      ["GET", `/admin/scim-connections/${connection.id}`, undefined],
      ["POST", `/admin/scim-connections/${connection.id}/rotate`, undefined],
      ["POST", `/admin/scim-connections/${connection.id}/disable`, undefined],
    ] as const;
    for (const [method, path, body] of routes) {
      const read = await call(path, { method, body, headers: { authorization: `Bearer ${READ_TOKENS}` } });
      expect(read.status, `${method} ${path}`).toBe(403);
      expect(await read.json()).toMatchObject({ error: "insufficient_scope" });
      const anonymous = await call(path, { method, body });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      // The connection's own token is not an admin token either.
      const own = await call(path, { method, body, headers: { authorization: `Bearer ${token}` } });
      expect(own.status, `${method} ${path}`).toBe(401);
    }
    expect(await storedRow(connection.id)).toEqual(before);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM scim_connections").first<{ n: number }>())?.n).toBe(1);
    expect(await status(base_url, token)).toBe(200);
  });
});
