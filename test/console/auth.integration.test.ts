import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CONSOLE_SECURITY_HEADERS } from "../../src/console/headers";
import { SESSION_TTL_MS } from "../../src/http/console/session";
import { CONSOLE_BASE, consoleClient, cookiePair, csrfIn, signInConsole, submitSignIn, testClientIp } from "../support/console";
import { callApp } from "../support/worker";

/**
 * The console's sign-in, session cookie, CSRF defence and headers, through the whole app (the
 * JSON admin API mounted after it). Tokens per test through env overrides; the default bindings
 * have ADMIN_TOKEN "test-admin-token" and no read tokens.
 */

const TOKENS = { ADMIN_TOKEN: "admin-old admin-new", READ_TOKENS: "read-all tenant_a:read-tenant-a" };
/** Requests without a client address get one of their own: sign-in is rate-limited per address (sign-in-limit.integration.test.ts). */
const withClientIp = (request: Request) => {
  if (!request.headers.has("cf-connecting-ip")) request.headers.set("cf-connecting-ip", testClientIp());
  return request;
};
const via = (overrides: Partial<Env> = TOKENS, now?: () => number) => (request: Request) => callApp(withClientIp(request), overrides, now ? { now } : {});
const SESSION_COOKIE = /^(__Secure-)?console_session$/;

/** Every Set-Cookie of a response, parsed: name, value and attributes (lowercased keys). */
function setCookies(response: Response) {
  return response.headers.getSetCookie().map((header) => {
    const [pair, ...attributes] = header.split(/;\s*/);
    const at = pair!.indexOf("=");
    const parsed: Record<string, string | true> = {};
    for (const attribute of attributes) {
      const eq = attribute.indexOf("=");
      if (eq === -1) parsed[attribute.toLowerCase()] = true;
      else parsed[attribute.slice(0, eq).toLowerCase()] = attribute.slice(eq + 1);
    }
    return { name: pair!.slice(0, at), value: pair!.slice(at + 1), attributes: parsed };
  });
}

const errorCode = (html: string) => /data-testid="error" data-code="([a-z_]+)"/.exec(html)?.[1] ?? null;

async function signInResponse(token: string, overrides: Partial<Env> = TOKENS, base = CONSOLE_BASE, headers: Record<string, string> = {}) {
  return submitSignIn(via(overrides), base, token, headers);
}

describe("console sign-in", () => {
  it("an admin token signs in: 303 to the overview, with a signed session cookie (HttpOnly, Secure, SameSite=Strict, Path=/admin, one hour)", async () => {
    const response = await signInResponse("admin-new");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin");
    const session = setCookies(response).find((cookie) => cookie.name === "__Secure-console_session");
    expect(session).toBeDefined();
    expect(session!.attributes).toMatchObject({ httponly: true, secure: true, samesite: "Strict", path: "/admin", "max-age": String(SESSION_TTL_MS / 1000) });
    expect(session!.attributes.domain).toBeUndefined();
    // No token and no personal data in the cookie: the payload is {v, sid, role, exp}.
    const payload = JSON.parse(atob(session!.value.split(".")[0]!.replaceAll("-", "+").replaceAll("_", "/")));
    expect(Object.keys(payload).sort()).toEqual(["exp", "role", "sid", "v"]);
    expect(payload.role).toBe("admin");
    expect(session!.value).not.toContain("admin-new");
    // The pre-session cookie of the sign-in form is cleared.
    expect(setCookies(response).find((cookie) => cookie.name === "console_sign_in")?.attributes["max-age"]).toBe("0");

    const admin = consoleClient(via(), CONSOLE_BASE, `${session!.name}=${session!.value}`, "");
    const overview = await admin.get("/admin");
    expect(overview.status).toBe(200);
    const html = await overview.text();
    expect(html).toContain('data-testid="role">Admin<');
    expect(html).toContain('data-testid="health"');
  });

  it("an unscoped read token signs in as a viewer: every page, no action", async () => {
    const viewer = await signInConsole({ token: "read-all", overrides: TOKENS });
    const overview = await (await viewer.get("/admin")).text();
    expect(overview).toContain('data-testid="role">Viewer (read-only)<');
    const runsBefore = (await env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first<{ n: number }>())!.n;
    for (const path of ["/admin/console/runs", "/admin/console/dead-letters/replay", "/admin/console/events/firstup/evt_1/replay"]) {
      const denied = await viewer.post(path, { provider: "firstup", id: "dl_1" });
      expect(denied.status, path).toBe(403);
      expect(errorCode(await denied.text()), path).toBe("insufficient_scope");
    }
    expect((await env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first<{ n: number }>())!.n).toBe(runsBefore);
    // A viewer may still sign out.
    expect((await viewer.post("/admin/sign-out")).status).toBe(303);
  });

  it("an organization-scoped read token may not sign in (the console shows every tenant): 403 insufficient_scope, no cookie", async () => {
    const response = await signInResponse("read-tenant-a");
    expect(response.status).toBe(403);
    expect(errorCode(await response.text())).toBe("insufficient_scope");
    expect(cookiePair(response, SESSION_COOKIE)).toBeNull();
  });

  it("a wrong or missing token: 401 invalid_token on the sign-in form again, no cookie, and no hint of what was wrong", async () => {
    for (const token of ["admin-ol", "admin-new ", "test-admin-token", ""]) {
      const response = await signInResponse(token);
      expect(response.status, JSON.stringify(token)).toBe(401);
      const html = await response.text();
      expect(errorCode(html)).toBe("invalid_token");
      expect(html).toContain('<form id="sign-in"');
      expect(html).not.toContain("admin-ol");
      expect(cookiePair(response, SESSION_COOKIE)).toBeNull();
    }
  });

  it("without any credential that could sign in, the console does not exist: the JSON 404 of any unknown route", async () => {
    for (const overrides of [{ ADMIN_TOKEN: "", READ_TOKENS: "" }, { ADMIN_TOKEN: "", READ_TOKENS: "tenant_a:read-tenant-a" }]) {
      for (const [method, path] of [
        ["GET", "/admin"],
        ["GET", "/admin/sign-in"],
        ["POST", "/admin/sign-in"],
        ["POST", "/admin/sign-out"],
        ["GET", "/admin/assets/console.css"],
        ["GET", "/admin/console/events"],
      ] as const) {
        const response = await callApp(new Request(CONSOLE_BASE + path, { method, redirect: "manual" }), overrides);
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(await response.json()).toMatchObject({ error: "not_found" });
      }
    }
  });

  it("GET /admin/sign-in with a live session goes straight to the overview", async () => {
    const admin = await signInConsole({ token: "admin-old", overrides: TOKENS });
    const response = await admin.get("/admin/sign-in");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin");
  });
});

describe("the console and the JSON admin API stay apart", () => {
  it("GET /admin without a cookie sends the browser to sign in (303), not a JSON 401", async () => {
    for (const path of ["/admin", "/admin/console/events", "/admin/console/dead-letters"]) {
      const response = await exports.default.fetch(CONSOLE_BASE + path, { redirect: "manual" });
      expect(response.status, path).toBe(303);
      expect(response.headers.get("location"), path).toBe("/admin/sign-in");
    }
  });

  it("the session cookie never authenticates the JSON API: /admin/events with a cookie and no bearer is 401", async () => {
    const admin = await signInConsole();
    for (const [method, path] of [
      ["GET", "/admin/events"],
      ["GET", "/admin/dead-letters"],
      ["POST", "/admin/reconcile/firstup"],
    ] as const) {
      const response = await admin.fetch(path, { method });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(await response.json()).toMatchObject({ error: "unauthorized" });
    }
    // And the bearer token still works there, cookie or not.
    const withBearer = await admin.fetch("/admin/events", { headers: { authorization: "Bearer test-admin-token" } });
    expect(withBearer.status).toBe(200);
  });
});

describe("session cookie", () => {
  it("is Secure with the __Secure- prefix on https, and plain (no Secure) only on loopback http (local dev)", async () => {
    for (const base of ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"]) {
      const response = await signInResponse("admin-new", TOKENS, base);
      expect(response.status, base).toBe(303);
      const session = setCookies(response).find((cookie) => SESSION_COOKIE.test(cookie.name))!;
      expect(session.name, base).toBe("console_session");
      expect(session.attributes.secure, base).toBeUndefined();
      expect(session.attributes).toMatchObject({ httponly: true, samesite: "Strict", path: "/admin" });
      // And it works there.
      const client = consoleClient(via(), base, `${session.name}=${session.value}`, "");
      expect((await client.get("/admin")).status).toBe(200);
    }
    // Any other host over plain http still gets Secure (a browser then drops the cookie: use https).
    const plain = await signInResponse("admin-new", TOKENS, "http://sync.example.com");
    expect(setCookies(plain).find((cookie) => SESSION_COOKIE.test(cookie.name))!.attributes.secure).toBe(true);
  });

  it("expires an hour after sign-in, whatever the activity", async () => {
    const signedInAt = Date.now();
    const admin = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    const at = (ms: number) => consoleClient(via(TOKENS, () => ms), CONSOLE_BASE, admin.cookie, admin.csrf);
    expect((await at(signedInAt + SESSION_TTL_MS - 60_000).get("/admin")).status).toBe(200);
    const expired = await at(signedInAt + SESSION_TTL_MS + 1_000).get("/admin");
    expect(expired.status).toBe(303);
    expect(expired.headers.get("location")).toBe("/admin/sign-in");
  });

  it("a tampered cookie is refused: role changed, signature changed, pieces swapped, garbage", async () => {
    const viewer = await signInConsole({ overrides: TOKENS, token: "read-all" });
    const admin = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    const [name, value] = viewer.cookie.split("=") as [string, string];
    const [payload, signature] = value.split(".") as [string, string];
    const decoded = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
    const encode = (object: unknown) => btoa(JSON.stringify(object)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const adminSignature = admin.cookie.split("=")[1]!.split(".")[1]!;
    const flipped = signature.slice(0, -2) + (signature.endsWith("AA") ? "BB" : "AA");
    const candidates = [
      `${encode({ ...decoded, role: "admin" })}.${signature}`,
      `${encode({ ...decoded, role: "admin" })}.${adminSignature}`,
      `${encode({ ...decoded, exp: decoded.exp + SESSION_TTL_MS })}.${signature}`,
      `${payload}.${flipped}`,
      `${payload}.`,
      `${payload}.${signature}.${signature}`,
      "garbage",
      "",
    ];
    for (const forged of candidates) {
      const response = await consoleClient(via(), CONSOLE_BASE, `${name}=${forged}`, "").get("/admin");
      expect(response.status, forged).toBe(303);
    }
    // The genuine cookie still works.
    expect((await viewer.get("/admin")).status).toBe(200);
  });

  it("removing the token that signed in (rotation) ends its sessions; sessions of the other token live on", async () => {
    const old = await signInConsole({ overrides: TOKENS, token: "admin-old" });
    const fresh = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    const viewer = await signInConsole({ overrides: TOKENS, token: "read-all" });
    const rotated = { ADMIN_TOKEN: "admin-new", READ_TOKENS: "read-other" };
    const after = (client: typeof old) => consoleClient(via(rotated), CONSOLE_BASE, client.cookie, client.csrf);
    expect((await after(old).get("/admin")).status).toBe(303);
    expect((await after(viewer).get("/admin")).status).toBe(303);
    expect((await after(fresh).get("/admin")).status).toBe(200);
    // A read token configured as the same string as an admin token does not make a viewer session an admin one.
    const sameString = consoleClient(via({ ADMIN_TOKEN: "read-all", READ_TOKENS: "" }), CONSOLE_BASE, viewer.cookie, viewer.csrf);
    expect((await sameString.get("/admin")).status).toBe(303);
  });
});

describe("CSRF", () => {
  it("every console POST needs the session's token: missing, wrong, another session's, or cross-site → 403 csrf_invalid, and nothing happens", async () => {
    const admin = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    const other = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    expect(other.csrf).not.toBe(admin.csrf);
    const runs = async () => (await env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first<{ n: number }>())!.n;
    const runsBefore = await runs();
    const attempts: [string, Record<string, string | null>, Record<string, string>][] = [
      ["missing", { csrf: null }, {}],
      ["empty", { csrf: "" }, {}],
      ["wrong", { csrf: admin.csrf.slice(0, -1) + (admin.csrf.endsWith("A") ? "B" : "A") }, {}],
      ["another session's", { csrf: other.csrf }, {}],
      ["cross-site Origin", {}, { origin: "https://evil.example" }],
      ["Origin null", {}, { origin: "null" }],
      ["cross-site fetch", {}, { "sec-fetch-site": "cross-site" }],
      ["same-site (a sibling subdomain)", {}, { "sec-fetch-site": "same-site" }],
    ];
    for (const path of ["/admin/sign-out", "/admin/console/runs", "/admin/console/dead-letters/replay"]) {
      for (const [what, fields, headers] of attempts) {
        const response = await admin.post(path, { provider: "firstup", id: "dl_1", ...fields }, headers);
        expect(response.status, `${path}: ${what}`).toBe(403);
        expect(errorCode(await response.text()), `${path}: ${what}`).toBe("csrf_invalid");
        // The session was not signed out.
        expect(cookiePair(response, SESSION_COOKIE), `${path}: ${what}`).toBeNull();
      }
    }
    expect(await runs()).toBe(runsBefore);
    expect((await admin.get("/admin")).status).toBe(200);
    // The same form from this origin passes.
    const signedOut = await admin.post("/admin/sign-out", {}, { origin: CONSOLE_BASE, "sec-fetch-site": "same-origin" });
    expect(signedOut.status).toBe(303);
  });

  it("the sign-in form too (login CSRF): without its pre-session cookie, with another form's token, or cross-site → 403, no session", async () => {
    const send = via();
    const page = await send(new Request(`${CONSOLE_BASE}/admin/sign-in`));
    const formToken = csrfIn(await page.text())!;
    const preSession = cookiePair(page, /^console_sign_in$/)!;
    const otherPage = await send(new Request(`${CONSOLE_BASE}/admin/sign-in`));
    const otherToken = csrfIn(await otherPage.text())!;
    expect(setCookies(page).find((cookie) => cookie.name === "console_sign_in")!.attributes).toMatchObject({ httponly: true, samesite: "Strict", path: "/admin/sign-in", secure: true });
    const post = (fields: Record<string, string>, headers: Record<string, string>) =>
      send(
        new Request(`${CONSOLE_BASE}/admin/sign-in`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body: new URLSearchParams({ token: "admin-new", ...fields }),
          redirect: "manual",
        }),
      );
    const refused: [string, Record<string, string>, Record<string, string>][] = [
      ["no cookie", { csrf: formToken }, {}],
      ["no form token", {}, { cookie: preSession }],
      ["another form's token", { csrf: otherToken }, { cookie: preSession }],
      ["cross-site Origin", { csrf: formToken }, { cookie: preSession, origin: "https://evil.example" }],
      ["cross-site fetch", { csrf: formToken }, { cookie: preSession, "sec-fetch-site": "cross-site" }],
    ];
    for (const [what, fields, headers] of refused) {
      const response = await post(fields, headers);
      expect(response.status, what).toBe(403);
      expect(errorCode(await response.text()), what).toBe("csrf_invalid");
      expect(cookiePair(response, SESSION_COOKIE), what).toBeNull();
    }
    const accepted = await post({ csrf: formToken }, { cookie: preSession, origin: CONSOLE_BASE, "sec-fetch-site": "same-origin" });
    expect(accepted.status).toBe(303);
    expect(cookiePair(accepted, SESSION_COOKIE)).not.toBeNull();
  });
});

describe("sign-out", () => {
  it("clears the cookie (Max-Age=0, same name and path) and sends the browser to sign in", async () => {
    const admin = await signInConsole();
    const response = await admin.post("/admin/sign-out");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/sign-in");
    const cleared = setCookies(response).find((cookie) => SESSION_COOKIE.test(cookie.name))!;
    expect(cleared.name).toBe("__Secure-console_session");
    expect(cleared.value).toBe("");
    expect(cleared.attributes).toMatchObject({ "max-age": "0", path: "/admin", secure: true, httponly: true });
    // The browser sends no cookie now: the overview asks to sign in.
    const after = consoleClient(via(), CONSOLE_BASE, `${cleared.name}=${cleared.value}`, "");
    expect((await after.get("/admin")).status).toBe(303);
  });
});

describe("headers on every console response", () => {
  it("CSP, frame, referrer, sniffing and caching headers on pages, redirects, errors, assets and the sign-in form", async () => {
    const admin = await signInConsole({ overrides: TOKENS, token: "admin-new" });
    const viewer = await signInConsole({ overrides: TOKENS, token: "read-all" });
    const anonymous = consoleClient(via(), CONSOLE_BASE, "", "");
    const responses: [string, Response][] = [
      ["overview", await admin.get("/admin")],
      ["overview without a session (303)", await anonymous.get("/admin")],
      ["sign-in form", await anonymous.get("/admin/sign-in")],
      ["wrong token (401)", await signInResponse("nope")],
      ["scoped token (403)", await signInResponse("read-tenant-a")],
      ["sign-in without its form token (403)", await anonymous.post("/admin/sign-in", { token: "admin-new" })],
      ["viewer POST (403)", await viewer.post("/admin/console/runs", { provider: "firstup" })],
      ["bad CSRF (403)", await admin.post("/admin/sign-out", { csrf: "x" })],
      ["unknown console page (404)", await admin.get("/admin/console/nope")],
      ["stylesheet", await anonymous.get("/admin/assets/console.css")],
      ["script", await anonymous.get("/admin/assets/console.js")],
      ["event log", await admin.get("/admin/console/events")],
      ["sign-out (303)", await admin.post("/admin/sign-out")],
    ];
    for (const [what, response] of responses) {
      for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) expect(response.headers.get(name), `${what}: ${name}`).toBe(value);
      await response.body?.cancel();
    }
    expect(CONSOLE_SECURITY_HEADERS["Content-Security-Policy"]).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    const unknown = await admin.get("/admin/console/nope");
    expect(unknown.status).toBe(404);
    expect(errorCode(await unknown.text())).toBe("not_found");
  });

  it("pages hold no inline script or style, so the CSP needs no exception", async () => {
    const admin = await signInConsole();
    for (const path of ["/admin", "/admin/sign-in"]) {
      const html = await (await (path === "/admin/sign-in" ? consoleClient(via(), CONSOLE_BASE, "", "").get(path) : admin.get(path))).text();
      expect(html, path).toMatch(/^<!doctype html>/);
      expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(html, path).not.toMatch(/<style|\sstyle=|\son[a-z]+=/);
    }
    const css = await consoleClient(via(), CONSOLE_BASE, "", "").get("/admin/assets/console.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const js = await consoleClient(via(), CONSOLE_BASE, "", "").get("/admin/assets/console.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  });

  it("JSON admin API responses are left as they were (no console headers on /admin/events)", async () => {
    const response = await callApp(new Request(`${CONSOLE_BASE}/admin/events`, { headers: { authorization: "Bearer test-admin-token" } }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toBeNull();
  });
});
