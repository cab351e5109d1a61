import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import type { AppEnv } from "../app-env";
import { configuredCredentials, identify } from "../credentials";
import { consoleErrorPage } from "./render";

/**
 * The operator console's session: a signed cookie, no server-side state.
 *
 * Who may sign in: an ADMIN_TOKEN token (role `admin`) or an unscoped READ_TOKENS entry (role
 * `viewer`, reads every page, can change nothing). An organization-scoped read token may not: the
 * console shows every tenant.
 *
 * The cookie is `<payload>.<signature>`, both base64url. The payload is `{v, sid, role, exp}`: a
 * random session id, the role and an absolute expiry (SESSION_TTL_MS after sign-in, never
 * extended) — no token, no personal data. The signature is HMAC-SHA256 under a key derived (HKDF)
 * from the very token that signed in. So:
 * - there is no new secret to configure;
 * - removing or rotating that token in ADMIN_TOKEN / READ_TOKENS revokes its sessions at once,
 *   because no configured token derives the key any more;
 * - to verify, the key is derived from every configured token of the payload's role and each
 *   signature is checked (crypto.subtle.verify compares in constant time), all of them, whatever
 *   matched, so timing does not say which token a session belongs to.
 * The CSRF token of a session is HMAC(session key, "csrf:" + sid): bound to that session, never
 * stored, and it dies with it.
 */

export type ConsoleRole = "admin" | "viewer";

export interface ConsoleSession {
  role: ConsoleRole;
  /** The value every state-changing form of this session carries as `<input name="csrf">`. */
  csrf: string;
}

/** Hono typing of every console router: AppEnv plus the signed-in session. */
export type ConsoleEnv = { Bindings: Env; Variables: AppEnv["Variables"] & { console: ConsoleSession } };

/** Absolute session lifetime: one hour after sign-in, then sign in again. */
export const SESSION_TTL_MS = 60 * 60 * 1000;

/** Bumped if the payload's shape changes: older cookies then simply stop verifying. */
const PAYLOAD_VERSION = 1;

const encoder = new TextEncoder();

/**
 * Plain http is accepted only on loopback (`wrangler dev` on 127.0.0.1): everywhere else the cookie
 * is `Secure` and carries the `__Secure-` prefix, which browsers refuse to set without `Secure` or
 * from a non-https page. (`__Host-` would also pin the host, but demands `Path=/`: the cookie would
 * then travel with every /v1 and /scim request of the browser; `Path=/admin` keeps it to the console.)
 */
export function isLoopbackHttp(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
}

export function sessionCookieName(url: string): string {
  return isLoopbackHttp(url) ? "console_session" : "__Secure-console_session";
}

/** Whether this deployment has anyone who could sign in; without, the console does not exist (404). */
export function consoleEnabled(env: Env): boolean {
  return configuredCredentials(env).all.some((credential) => consoleRole(credential.principal) !== null);
}

function consoleRole(principal: { role: "admin" } | { role: "reader"; organizationId: string | null }): ConsoleRole | null {
  if (principal.role === "admin") return "admin";
  return principal.organizationId === null ? "viewer" : null;
}

export type SignInResult = { ok: true; role: ConsoleRole } | { ok: false; code: "invalid_token" | "insufficient_scope" };

/** Which console role `token` signs in as (identify() compares in constant time against every token). */
export async function checkSignInToken(env: Env, token: string): Promise<SignInResult> {
  const principal = await identify(token, configuredCredentials(env));
  if (principal === null) return { ok: false, code: "invalid_token" };
  const role = consoleRole(principal);
  return role ? { ok: true, role } : { ok: false, code: "insufficient_scope" };
}

/** Signs a new session for `token` (already checked) and sets its cookie. */
export async function startSession(c: Context, token: string, role: ConsoleRole, now: number): Promise<void> {
  const payload = base64url(encoder.encode(JSON.stringify({ v: PAYLOAD_VERSION, sid: randomId(), role, exp: now + SESSION_TTL_MS })));
  const key = await sessionKey(token, role);
  const signature = base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload))));
  const secure = !isLoopbackHttp(c.req.url);
  setCookie(c, sessionCookieName(c.req.url), `${payload}.${signature}`, {
    path: "/admin",
    httpOnly: true,
    secure,
    sameSite: "Strict",
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export function endSession(c: Context): void {
  const secure = !isLoopbackHttp(c.req.url);
  deleteCookie(c, sessionCookieName(c.req.url), { path: "/admin", httpOnly: true, secure, sameSite: "Strict" });
}

/** The request's session, or null: no cookie, malformed, expired, tampered with, or its token is gone. */
export async function readSession(c: Context, now: number): Promise<ConsoleSession | null> {
  const cookie = getCookie(c, sessionCookieName(c.req.url));
  if (!cookie) return null;
  const [payload, signature, extra] = cookie.split(".");
  if (!payload || !signature || extra !== undefined) return null;
  const claims = parseClaims(payload);
  if (!claims || claims.exp <= now) return null;
  const signatureBytes = fromBase64url(signature);
  if (!signatureBytes) return null;

  const candidates = configuredCredentials(c.env).all.filter((credential) => consoleRole(credential.principal) === claims.role);
  const data = encoder.encode(payload);
  const keys = await Promise.all(candidates.map((credential) => sessionKey(credential.token, claims.role)));
  // Every key is tried (no early exit).
  const verified = await Promise.all(keys.map((key) => crypto.subtle.verify("HMAC", key, signatureBytes, data)));
  const index = verified.indexOf(true);
  if (index === -1) return null;
  return { role: claims.role, csrf: await csrfToken(keys[index]!, claims.sid) };
}

/** Constant-time check of a submitted CSRF value against the session's. */
export async function csrfMatches(session: ConsoleSession, submitted: string | null): Promise<boolean> {
  if (!submitted) return false;
  return timingSafeEqual(session.csrf, submitted);
}

/**
 * Every console page but sign-in: sets `c.get("console")`, or sends the browser to sign in
 * (303, for GET and POST alike: an expired session's form post lands on the sign-in page).
 */
export function requireConsoleSession(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const session = await readSession(c, c.get("now")());
    if (!session) return c.redirect("/admin/sign-in", 303);
    c.set("console", session);
    await next();
  };
}

/** Before any state-changing handler: a viewer gets the 403 `insufficient_scope` page. */
export function requireConsoleAdmin(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (c.get("console").role !== "admin") return consoleErrorPage(c, 403, "insufficient_scope");
    await next();
  };
}

interface Claims {
  sid: string;
  role: ConsoleRole;
  exp: number;
}

function parseClaims(payload: string): Claims | null {
  const bytes = fromBase64url(payload);
  if (!bytes) return null;
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (value.v !== PAYLOAD_VERSION || typeof value.sid !== "string" || typeof value.exp !== "number") return null;
    if (value.role !== "admin" && value.role !== "viewer") return null;
    return { sid: value.sid, role: value.role, exp: value.exp };
  } catch {
    return null;
  }
}

/** Derived keys, per token and role: deriving costs a little, and a request may try several tokens. */
const keyCache = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_LIMIT = 64;

/**
 * HKDF-SHA256 from the token; the role is part of `info`, so a key is never valid for the other
 * role, even if one token were configured as both.
 */
function sessionKey(token: string, role: ConsoleRole): Promise<CryptoKey> {
  const cacheKey = `${role}\u0000${token}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    key = crypto.subtle
      .importKey("raw", encoder.encode(token), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: encoder.encode("directory-sync console session v1"), info: encoder.encode(`session:${role}`) },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
    keyCache.set(cacheKey, key);
  }
  return key;
}

async function csrfToken(key: CryptoKey, sid: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`csrf:${sid}`))));
}

export function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}
