import { expect } from "vitest";
import { callApp } from "./worker";

/**
 * The operator console from tests: signs in through the real form (GET /admin/sign-in for the
 * pre-session cookie and form token, then POST), and returns a client that sends the session
 * cookie, and the session's CSRF token on form posts.
 *
 *   const admin = await signInConsole();
 *   const page = await admin.get("/admin/console/events?status=failed");
 *   const done = await admin.post("/admin/console/dead-letters/replay", { id: ["dl_1", "dl_2"] });
 *
 * Requests go through `callApp` (the app on the real bindings, with `overrides`: other tokens, a
 * counting D1, …). BASE is https, so the cookie is `__Secure-console_session`; pass
 * `base: "http://127.0.0.1:8787"` for the loopback (local dev) variant.
 */

export const CONSOLE_BASE = "https://sync.example.com";
/** ADMIN_TOKEN in vitest.config.ts. */
export const TEST_ADMIN_TOKEN = "test-admin-token";

export interface ConsoleClient {
  /** `name=value` of the session cookie, as a Cookie header carries it. */
  cookie: string;
  csrf: string;
  /** Any request, with the session cookie (and `init.headers`). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  get(path: string): Promise<Response>;
  /**
   * A form post (application/x-www-form-urlencoded) with the session's `csrf` added unless the
   * fields name one (`csrf: null` sends none). Array values repeat the field (checkboxes).
   */
  post(path: string, fields?: Record<string, string | string[] | null>, headers?: Record<string, string>): Promise<Response>;
}

export interface ConsoleOptions {
  token?: string;
  base?: string;
  overrides?: Partial<Env>;
}

type Send = (request: Request) => Promise<Response>;

export async function signInConsole(options: ConsoleOptions = {}): Promise<ConsoleClient> {
  const base = options.base ?? CONSOLE_BASE;
  const send: Send = (request) => callApp(request, options.overrides ?? {});
  const response = await submitSignIn(send, base, options.token ?? TEST_ADMIN_TOKEN);
  expect(response.status, "sign-in answers 303").toBe(303);
  const cookie = cookiePair(response, /^(__Secure-)?console_session$/);
  expect(cookie, "a session cookie is set").toBeTruthy();
  const client = consoleClient(send, base, cookie!, "");
  const overview = await client.get("/admin");
  expect(overview.status, "the overview answers 200 once signed in").toBe(200);
  client.csrf = csrfIn(await overview.text())!;
  expect(client.csrf, "the overview carries the session's CSRF token").toBeTruthy();
  return client;
}

/**
 * A client address of its own (IPv6 documentation range), as Cloudflare's CF-Connecting-IP: sign-in
 * is rate-limited per address (src/http/console/sign-in-limit.ts), and each test's sign-ins are a
 * browser of their own, not one shared counter.
 */
export function testClientIp(): string {
  const groups = [...crypto.getRandomValues(new Uint16Array(4))].map((n) => n.toString(16));
  return `2001:db8::${groups.join(":")}`;
}

/**
 * GET the sign-in page, then POST `token` with its form token and pre-session cookie: the POST's
 * response. From a fresh client address unless `extraHeaders` names one (cf-connecting-ip).
 */
export async function submitSignIn(send: Send, base: string, token: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const page = await send(new Request(`${base}/admin/sign-in`));
  expect(page.status).toBe(200);
  const formToken = csrfIn(await page.text());
  const preSession = cookiePair(page, /^console_sign_in$/);
  return send(
    new Request(`${base}/admin/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": testClientIp(), ...(preSession ? { cookie: preSession } : {}), ...extraHeaders },
      body: new URLSearchParams({ csrf: formToken ?? "", token }),
      redirect: "manual",
    }),
  );
}

export function consoleClient(send: Send, base: string, cookie: string, csrf: string): ConsoleClient {
  const client: ConsoleClient = {
    cookie,
    csrf,
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set("cookie", client.cookie);
      return send(new Request(base + path, { redirect: "manual", ...init, headers }));
    },
    get: (path) => client.fetch(path),
    post: (path, fields = {}, headers = {}) => {
      const body = new URLSearchParams();
      if (!("csrf" in fields)) body.append("csrf", client.csrf);
      for (const [name, value] of Object.entries(fields)) {
        if (value === null) continue;
        for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
      }
      return client.fetch(path, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
    },
  };
  return client;
}

/** The first `name=value` of a Set-Cookie whose name matches. */
export function cookiePair(response: Response, name: RegExp): string | null {
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(";")[0]!;
    const cookieName = pair.slice(0, pair.indexOf("="));
    if (name.test(cookieName)) return pair;
  }
  return null;
}

/** The value of the first `<input … name="csrf" value="…">` in a page. */
export function csrfIn(html: string): string | null {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? null;
}
