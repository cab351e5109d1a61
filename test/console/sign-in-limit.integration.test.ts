import { afterEach, describe, expect, it, vi } from "vitest";
import { NO_CLIENT_IP_KEY, SIGN_IN_LIMIT_PERIOD_SECONDS } from "../../src/http/console/sign-in-limit";
import { CONSOLE_BASE, cookiePair, signInConsole, submitSignIn, testClientIp } from "../support/console";
import { callApp } from "../support/worker";

/**
 * POST /admin/sign-in: every attempt counts against SIGN_IN_LIMITER (the real Workers Rate Limiting
 * binding from wrangler.toml, 10 per 60 s, which miniflare runs locally), keyed by the client's
 * address; every refusal is one log line with its code and never the token.
 */

const SESSION_COOKIE = /^(__Secure-)?console_session$/;
const errorCode = (html: string) => /data-testid="error" data-code="([a-z_]+)"/.exec(html)?.[1] ?? null;
const send = (overrides: Partial<Env> = {}) => (request: Request) => callApp(request, overrides);
const attempt = (token: string, ip: string, overrides: Partial<Env> = {}) => submitSignIn(send(overrides), CONSOLE_BASE, token, { "cf-connecting-ip": ip });

/** The structured log lines (src/log.ts) written while `run` runs. */
async function logLines(run: () => Promise<void>): Promise<{ event: string; [field: string]: unknown }[]> {
  const spy = vi.spyOn(console, "log");
  try {
    await run();
    return spy.mock.calls.map(([line]) => String(line)).filter((line) => line.startsWith('{"event":')).map((line) => JSON.parse(line));
  } finally {
    spy.mockRestore();
  }
}

/**
 * Miniflare's limiter counts in windows aligned to the clock (whole minutes for a period of 60 s):
 * attempts that straddle a minute's end would be counted in two windows. The run is repeated, from a
 * new address, when the minute changed while it ran (at most once in practice).
 */
async function withinOneWindow<T>(run: (ip: string) => Promise<T>): Promise<T> {
  const window = () => Math.floor(Date.now() / (SIGN_IN_LIMIT_PERIOD_SECONDS * 1000));
  for (let tries = 0; tries < 3; tries++) {
    const started = window();
    const result = await run(testClientIp());
    if (window() === started) return result;
  }
  throw new Error("the limiter's window rolled over during every try");
}

afterEach(() => vi.restoreAllMocks());

describe("sign-in rate limit (SIGN_IN_LIMITER)", () => {
  it("the 11th attempt from one address within the period is 429 rate_limited with Retry-After; then even the right token is refused; other addresses are not", async () => {
    const { statuses, limited, rightToken } = await withinOneWindow(async (ip) => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await attempt(`wrong-token-${i}`, ip)).status);
      return { statuses, limited: await attempt("wrong-token-10", ip), rightToken: await attempt("test-admin-token", ip) };
    });
    expect(statuses).toEqual(Array(10).fill(401));

    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe(String(SIGN_IN_LIMIT_PERIOD_SECONDS));
    const html = await limited.text();
    expect(errorCode(html)).toBe("rate_limited");
    expect(html).toContain('<form id="sign-in"');

    // Counted before the token is looked at: the right token is refused too while limited, no session.
    expect(rightToken.status).toBe(429);
    expect(errorCode(await rightToken.text())).toBe("rate_limited");
    expect(cookiePair(rightToken, SESSION_COOKIE)).toBeNull();

    // The limit is per address: another one signs in.
    const other = await attempt("test-admin-token", testClientIp());
    expect(other.status).toBe(303);
    expect(cookiePair(other, SESSION_COOKIE)).not.toBeNull();
  });

  it("successful sign-ins count too (the binding cannot be asked without counting): 10 pass, the 11th is limited", async () => {
    const statuses = await withinOneWindow(async (ip) => {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await attempt("test-admin-token", ip)).status);
      return statuses;
    });
    expect(statuses).toEqual([...Array(10).fill(303), 429]);
  });

  it("keys by CF-Connecting-IP, one fixed key without it; only POST /admin/sign-in is counted", async () => {
    const keys: string[] = [];
    const recording: RateLimit = { limit: async ({ key }) => (keys.push(key), { success: true }) };
    const ip = testClientIp();
    expect((await attempt("test-admin-token", ip, { SIGN_IN_LIMITER: recording })).status).toBe(303);
    // No CF-Connecting-IP (only local tests and tools send none); refused for its missing form token, after counting.
    const anonymous = new Request(`${CONSOLE_BASE}/admin/sign-in`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "token=nope" });
    expect((await send({ SIGN_IN_LIMITER: recording })(anonymous)).status).toBe(403);
    expect(keys).toEqual([`sign-in:${ip}`, NO_CLIENT_IP_KEY]);

    // The sign-in form, the overview and sign-out are not counted.
    const admin = await signInConsole({ overrides: { SIGN_IN_LIMITER: recording } });
    keys.length = 0;
    await admin.get("/admin/sign-in");
    await admin.get("/admin");
    expect((await admin.post("/admin/sign-out")).status).toBe(303);
    expect(keys).toEqual([]);
  });

  it("a limiter that fails lets sign-in through (logged): a limiter outage must not lock operators out", async () => {
    const failing: RateLimit = {
      limit: async () => {
        throw new Error("limiter unavailable");
      },
    };
    let response: Response | undefined;
    const lines = await logLines(async () => {
      response = await attempt("test-admin-token", testClientIp(), { SIGN_IN_LIMITER: failing });
    });
    expect(response!.status).toBe(303);
    expect(lines.filter((line) => line.event === "console.sign_in_limiter_error")).toHaveLength(1);
  });

  it("without the binding (an older deployment), sign-in is unlimited, and the log says so once", async () => {
    const ip = testClientIp();
    const statuses: number[] = [];
    const lines = await logLines(async () => {
      for (let i = 0; i < 12; i++) statuses.push((await attempt(i === 11 ? "test-admin-token" : `wrong-${i}`, ip, { SIGN_IN_LIMITER: undefined })).status);
    });
    expect(statuses).toEqual([...Array(11).fill(401), 303]);
    expect(lines.filter((line) => line.event === "console.sign_in_unlimited")).toEqual([{ event: "console.sign_in_unlimited", reason: "no_binding", binding: "SIGN_IN_LIMITER" }]);
  });
});

describe("refused sign-ins are logged", () => {
  it("one line per refusal with its stable code and status; never the token, any part of it, or the client address", async () => {
    const token = "Zq7vK2-guessed-admin-token-9f3c";
    const scoped = "Xr4pW8-scoped-read-token-77ab";
    const overrides = { READ_TOKENS: `tenant_a:${scoped}` };
    const { ip, lines } = await withinOneWindow(async (ip) => {
      const lines = await logLines(async () => {
        expect((await attempt(token, ip, overrides)).status).toBe(401);
        expect((await attempt(scoped, ip, overrides)).status).toBe(403);
        expect((await attempt("", ip, overrides)).status).toBe(401);
        // Without its form token and pre-session cookie (login CSRF).
        const forged = await send(overrides)(
          new Request(`${CONSOLE_BASE}/admin/sign-in`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": ip },
            body: new URLSearchParams({ token }),
          }),
        );
        expect(forged.status).toBe(403);
        // Attempts 5 to 10, then the 11th: limited.
        for (let i = 0; i < 6; i++) expect((await attempt(token, ip, overrides)).status).toBe(401);
        expect((await attempt(token, ip, overrides)).status).toBe(429);
        // A successful sign-in is not a refusal.
        expect((await attempt("test-admin-token", testClientIp(), overrides)).status).toBe(303);
      });
      return { ip, lines };
    });
    const refused = lines.filter((line) => line.event === "console.sign_in_refused");
    expect(refused.slice(0, 4)).toEqual([
      { event: "console.sign_in_refused", code: "invalid_token", status: 401 },
      { event: "console.sign_in_refused", code: "insufficient_scope", status: 403 },
      { event: "console.sign_in_refused", code: "invalid_token", status: 401 },
      { event: "console.sign_in_refused", code: "csrf_invalid", status: 403 },
    ]);
    expect(refused).toHaveLength(11);
    expect(refused.at(-1)).toEqual({ event: "console.sign_in_refused", code: "rate_limited", status: 429 });
    const written = JSON.stringify(lines);
    for (const secret of [token, scoped, "test-admin-token"]) expect(written).not.toContain(secret.slice(0, 6));
    // Nor the client's address: personal data stays out of logs.
    expect(written).not.toContain(ip);
  });
});
