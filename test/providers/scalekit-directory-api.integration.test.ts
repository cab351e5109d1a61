import { describe, expect, it } from "vitest";
import { ScalekitApiError, walkPages, type DirectoryUser, type ScalekitDirectoryApi } from "../../src/providers/scalekit/directory-api";
import { scalekitEnvironment, scalekitUser } from "../support/scalekit-environment";

/** The Scalekit Directory API client against the local Scalekit API (test/support/scalekit-api.ts), over real HTTP. */

const ORG = "org_acme";
const DIR = "dir_acme";
const users = (n: number, prefix = "diruser_") => Array.from({ length: n }, (_, i) => scalekitUser(`${prefix}${String(i).padStart(4, "0")}`, DIR));
const directoryOf = (extra: Record<string, unknown> = {}) => ({
  organizations: [{ id: ORG, display_name: "Acme" }],
  directories: [{ id: DIR, organization_id: ORG, enabled: true }],
  ...extra,
});

async function allUsers(api: ScalekitDirectoryApi, request: Parameters<ScalekitDirectoryApi["listUsers"]>[2] = {}) {
  const ids: string[] = [];
  const found: DirectoryUser[] = [];
  let pages = 0;
  for await (const page of walkPages((pageToken) => api.listUsers(ORG, DIR, { ...request, pageToken }))) {
    pages++;
    found.push(...page.items);
    ids.push(...page.items.map((user) => user.id));
  }
  return { ids, pages, users: found };
}

const noSleep = async () => {};
const failureOf = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as ScalekitApiError);

describe("Scalekit Directory API client", () => {
  it("lists organizations with their directories", async () => {
    const environment = scalekitEnvironment("sk-orgs");
    const organizations = Array.from({ length: 130 }, (_, i) => ({ id: `org_${String(i).padStart(3, "0")}` }));
    await environment.reset({ organizations, directories: [{ id: "dir_x", organization_id: "org_007", enabled: false, directory_provider: "AZURE_AD" }] });
    const seen: Array<{ id: string; directories: string[] }> = [];
    for await (const entry of environment.client().organizationsWithDirectories()) {
      seen.push({ id: entry.organization.id, directories: entry.directories.map((d) => `${d.id}:${d.enabled}:${d.directory_provider}`) });
    }
    expect(seen).toHaveLength(130); // two pages of at most 100
    expect(seen.find((org) => org.id === "org_007")?.directories).toEqual(["dir_x:false:AZURE_AD"]);
  });

  it("asks for one token for many calls, and a new one once the cached token nears expiry", async () => {
    const environment = scalekitEnvironment("sk-token-cache");
    await environment.reset(directoryOf({ users: users(5), tokenTtlSeconds: 3600 }));
    let clock = Date.parse("2026-11-23T00:00:00Z");
    const api = environment.client({ now: () => clock });
    for (let i = 0; i < 5; i++) await api.listUsers(ORG, DIR);
    expect((await environment.stats()).tokenRequests).toBe(1);
    clock += 3600_000 - 120_000; // still more than the margin before expiry
    await api.listUsers(ORG, DIR);
    expect((await environment.stats()).tokenRequests).toBe(1);
    clock += 90_000; // within the last minute of its life
    await api.listUsers(ORG, DIR);
    expect((await environment.stats()).tokenRequests).toBe(2);
  });

  it("shares one token request between concurrent calls", async () => {
    const environment = scalekitEnvironment("sk-token-concurrent");
    await environment.reset(directoryOf({ users: users(3) }));
    const api = environment.client();
    await Promise.all([api.listUsers(ORG, DIR), api.listGroups(ORG, DIR), api.listDirectories(ORG)]);
    expect((await environment.stats()).tokenRequests).toBe(1);
  });

  it("refreshes the token once on a 401 and carries on", async () => {
    const environment = scalekitEnvironment("sk-token-revoked");
    await environment.reset(directoryOf({ users: users(3) }));
    const api = environment.client();
    await api.listUsers(ORG, DIR);
    await environment.revokeTokens();
    const page = await api.listUsers(ORG, DIR);
    expect(page.items).toHaveLength(3);
    expect((await environment.stats()).tokenRequests).toBe(2);
  });

  it("reads every user across pages when the server serves fewer than asked, and never asks for more than 30", async () => {
    const environment = scalekitEnvironment("sk-paging");
    await environment.reset(directoryOf({ users: users(100), quirks: { pageSizeCap: 7 } }));
    const { ids, pages } = await allUsers(environment.client(), { pageSize: 500 });
    expect(new Set(ids).size).toBe(100);
    expect(ids).toHaveLength(100);
    expect(pages).toBe(Math.ceil(100 / 7));
  });

  it("uses the documented maximum page size of 30 (the API refuses more)", async () => {
    const environment = scalekitEnvironment("sk-page-max");
    await environment.reset(directoryOf({ users: users(61) }));
    const { ids, pages } = await allUsers(environment.client());
    expect(ids).toHaveLength(61);
    expect(pages).toBe(3);
    // The server really refuses 31 (buf.validate page_size lte 30): the cap is not cosmetic.
    const response = await fetch(`${environment.url}/api/v1/organizations/${ORG}/directories/${DIR}/users?page_size=31`, {
      headers: { authorization: "Bearer anything" },
    });
    expect(response.status).toBe(401); // unauthenticated first; the 400 needs a token (below)
    const token = (await (
      await fetch(`${environment.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: "skc_test_client", client_secret: "test-scalekit-client-secret" }),
      })
    ).json()) as { access_token: string };
    const refused = await fetch(`${environment.url}/api/v1/organizations/${ORG}/directories/${DIR}/users?page_size=31`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(refused.status).toBe(400);
  });

  it("returns the whole profile with include_detail, groups on each user, and a group's members by directory_group_id", async () => {
    const environment = scalekitEnvironment("sk-detail");
    const groups = [
      { id: "dirgroup_eng", directory_id: DIR, display_name: "Engineering" },
      { id: "dirgroup_ops", directory_id: DIR, display_name: "Ops" },
    ];
    const members = [
      scalekitUser("diruser_a", DIR, { group_ids: ["dirgroup_eng"], detail: { active: false, department: "R&D" } }),
      scalekitUser("diruser_b", DIR, { group_ids: ["dirgroup_eng", "dirgroup_ops"] }),
      scalekitUser("diruser_c", DIR),
    ];
    await environment.reset(directoryOf({ users: members, groups }));
    const api = environment.client();
    const { users: listed } = await allUsers(api);
    const a = listed.find((user) => user.id === "diruser_a")!;
    expect(a.user_detail).toMatchObject({ active: false, department: "R&D" });
    expect(a.groups?.map((group) => group.display_name)).toEqual(["Engineering"]);
    const eng = await api.listGroupMembers(ORG, DIR, "dirgroup_eng");
    expect(eng.items.map((user) => user.id)).toEqual(["diruser_a", "diruser_b"]);
    const listedGroups = await api.listGroups(ORG, DIR);
    expect(listedGroups.items.map((group) => [group.id, group.total_users])).toEqual([
      ["dirgroup_eng", 2],
      ["dirgroup_ops", 1],
    ]);
  });

  it("lists only users updated after a timestamp, at sub-millisecond precision", async () => {
    const environment = scalekitEnvironment("sk-updated-after");
    await environment.reset(
      directoryOf({
        users: [
          scalekitUser("diruser_old", DIR, { updated_at: "2026-11-01T10:00:00.000000100Z" }),
          scalekitUser("diruser_same_ms", DIR, { updated_at: "2026-11-01T10:00:00.000000900Z" }),
          scalekitUser("diruser_new", DIR, { updated_at: "2026-11-02T00:00:00Z" }),
        ],
      }),
    );
    const api = environment.client();
    const { ids } = await allUsers(api, { updatedAfter: "2026-11-01T10:00:00.000000500Z" });
    expect(ids).toEqual(["diruser_new", "diruser_same_ms"]);
    const error = await failureOf(api.listUsers(ORG, DIR, { updatedAfter: "yesterday" }));
    expect(error?.kind).toBe("client_error");
  });

  it("waits out 429 Retry-After, then succeeds", async () => {
    const environment = scalekitEnvironment("sk-429");
    await environment.reset(directoryOf({ users: users(2), quirks: { throttle: { times: 2, retryAfterSeconds: 3 } } }));
    const waits: number[] = [];
    const page = await environment.client({ sleep: async (ms) => void waits.push(ms) }).listUsers(ORG, DIR);
    expect(page.items).toHaveLength(2);
    expect(waits).toEqual([3000, 3000]);
  });

  it("gives up with a transient error when 5xx outlast the budget, without waiting past it", async () => {
    const environment = scalekitEnvironment("sk-5xx");
    await environment.reset(directoryOf({ users: users(2), quirks: { failures: { times: 100, status: 502 } } }));
    const waits: number[] = [];
    const error = await failureOf(environment.client({ sleep: async (ms) => void waits.push(ms), maxAttempts: 4, maxWaitMs: 60_000, random: () => 1 }).listUsers(ORG, DIR));
    expect(error).toBeInstanceOf(ScalekitApiError);
    expect(error?.kind).toBe("unavailable");
    expect(error?.transient).toBe(true);
    expect(waits).toEqual([500, 1000, 2000]); // exponential, four attempts in all
    expect((await environment.stats()).requests).toBe(4);
  });

  it("recovers from a few 5xx within the budget", async () => {
    const environment = scalekitEnvironment("sk-5xx-recover");
    await environment.reset(directoryOf({ users: users(2), quirks: { failures: { times: 2, status: 503 } } }));
    const page = await environment.client({ sleep: noSleep }).listUsers(ORG, DIR);
    expect(page.items).toHaveLength(2);
  });

  it("does not wait for a Retry-After longer than its budget", async () => {
    const environment = scalekitEnvironment("sk-429-long");
    await environment.reset(directoryOf({ users: users(1), quirks: { throttle: { times: 5, retryAfterSeconds: 3600 } } }));
    const error = await failureOf(environment.client({ sleep: noSleep }).listUsers(ORG, DIR));
    expect(error?.kind).toBe("unavailable");
    expect((await environment.stats()).requests).toBe(1);
  });

  it("reports wrong credentials as a configuration error that names no secret", async () => {
    const environment = scalekitEnvironment("sk-bad-secret");
    await environment.reset(directoryOf({ users: users(1) }));
    const error = await failureOf(environment.client({ clientSecret: "wrong-secret-value" }).listUsers(ORG, DIR));
    expect(error?.kind).toBe("configuration");
    expect(error?.transient).toBe(false);
    expect(error?.code).toBe("scalekit_configuration");
    expect(error?.message).toContain("invalid_client");
    expect(error?.message).not.toContain("wrong-secret-value");
  });

  it("turns a 401 that survives a fresh token, or a 403, into a configuration error without leaking the token", async () => {
    const environment = scalekitEnvironment("sk-denied");
    await environment.reset(directoryOf({ users: users(1), quirks: { deny: 401 } }));
    const seenTokens: string[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const auth = new Headers(init?.headers).get("authorization");
      if (auth) seenTokens.push(auth.slice("Bearer ".length));
      return fetch(input, init);
    };
    const unauthorized = await failureOf(environment.client({ fetch: recordingFetch, sleep: noSleep }).listUsers(ORG, DIR));
    expect(unauthorized?.kind).toBe("configuration");
    expect(unauthorized?.status).toBe(401);
    expect((await environment.stats()).tokenRequests).toBe(2); // refreshed once, then gave up
    for (const token of seenTokens) expect(unauthorized?.message).not.toContain(token);

    await environment.setQuirks({ deny: 403 });
    const forbidden = await failureOf(environment.client({ sleep: noSleep }).listUsers(ORG, DIR));
    expect(forbidden?.kind).toBe("configuration");
    expect(forbidden?.status).toBe(403);
  });

  it("answers not_found for an unknown directory or group", async () => {
    const environment = scalekitEnvironment("sk-404");
    await environment.reset(directoryOf({ users: users(1) }));
    const api = environment.client();
    expect((await failureOf(api.listUsers(ORG, "dir_gone")))?.kind).toBe("not_found");
    expect((await failureOf(api.listGroupMembers(ORG, DIR, "dirgroup_gone")))?.kind).toBe("not_found");
  });

  it("tolerates extra fields and skips malformed items, counting them", async () => {
    const body = { users: [{ id: "diruser_1", email: "a@example.com", future_field: { x: 1 } }, { email: "no-id@example.com" }], next_page_token: "", total_size: "2" };
    const fakeFetch: typeof fetch = async (input) =>
      String(input).endsWith("/oauth/token") ? Response.json({ access_token: "t", expires_in: 60 }) : Response.json(body);
    const api = scalekitEnvironment("unused").client({ fetch: fakeFetch });
    const page = await api.listUsers(ORG, DIR);
    expect(page.items.map((user) => user.id)).toEqual(["diruser_1"]);
    expect(page.invalid).toBe(1);
    expect(page.totalSize).toBe(2);
    expect(page.nextPageToken).toBeNull();
  });

  describe("pages that change between calls (what a reconciliation sees)", () => {
    it("offset tokens: a user removed from an earlier page makes a present user fall between pages", async () => {
      const environment = scalekitEnvironment("sk-shift-offset");
      // 60 users, 30 a page; right after page 1, diruser_0000 (on page 1) is removed upstream.
      await environment.reset(directoryOf({ users: users(60), quirks: { afterUsersPage: { page: 1, remove: ["diruser_0000"] } } }));
      const { ids } = await allUsers(environment.client());
      // Page 2 starts at offset 30, which is now diruser_0031: diruser_0030 is still present
      // upstream but was listed on neither page. One listing is not evidence of absence.
      expect(ids).toHaveLength(59);
      expect(ids).not.toContain("diruser_0030");
      expect(ids).toContain("diruser_0000"); // read before it was removed
    });

    it("offset tokens: a user added on an earlier page makes a user appear twice", async () => {
      const environment = scalekitEnvironment("sk-shift-add");
      await environment.reset(directoryOf({ users: users(60), quirks: { afterUsersPage: { page: 1, upsert: [scalekitUser("diruser_", DIR)] } } }));
      const { ids } = await allUsers(environment.client());
      // Page 2 starts at offset 30, now diruser_0029 again: 61 ids, one read twice.
      expect(ids).toHaveLength(61);
      expect(ids.filter((id) => id === "diruser_0029")).toHaveLength(2);
      expect(ids).not.toContain("diruser_"); // sorted before the position already read
    });

    it("keyset tokens: removals do not hide present users", async () => {
      const environment = scalekitEnvironment("sk-shift-keyset");
      await environment.reset(directoryOf({ users: users(60), quirks: { paging: "keyset", afterUsersPage: { page: 1, remove: ["diruser_0000"] } } }));
      const { ids } = await allUsers(environment.client());
      expect(ids).toHaveLength(60);
      expect(ids).toContain("diruser_0030");
    });
  });
});

describe("Scalekit client hardening", () => {
  it("refuses a non-https environment URL outside loopback (the client secret would travel in clear)", async () => {
    const { scalekitDirectoryApiFromEnv } = await import("../../src/providers/scalekit/directory-api");
    const base = { SCALEKIT_CLIENT_ID: "id", SCALEKIT_CLIENT_SECRET: "secret" } as unknown as Env;
    expect(() => scalekitDirectoryApiFromEnv({ ...base, SCALEKIT_ENVIRONMENT_URL: "http://acme.scalekit.example" } as Env)).toThrow(/not_https/);
    expect(scalekitDirectoryApiFromEnv({ ...base, SCALEKIT_ENVIRONMENT_URL: "http://127.0.0.1:8789" } as Env)).not.toBeNull();
    expect(scalekitDirectoryApiFromEnv({ ...base, SCALEKIT_ENVIRONMENT_URL: "https://acme.scalekit.example" } as Env)).not.toBeNull();
  });

  it("caches a token whose response has no expires_in instead of fetching one per call", async () => {
    const { createScalekitDirectoryApi } = await import("../../src/providers/scalekit/directory-api");
    let tokenRequests = 0;
    const fetch = (async (input: RequestInfo | URL) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.endsWith("/oauth/token")) {
        tokenRequests++;
        return Response.json({ access_token: "t", token_type: "Bearer" });
      }
      return Response.json({ organizations: [], next_page_token: "" });
    }) as typeof globalThis.fetch;
    const api = createScalekitDirectoryApi({ environmentUrl: "https://acme.scalekit.example", clientId: "id", clientSecret: "secret", fetch });
    for (let i = 0; i < 5; i++) await api.listOrganizations();
    expect(tokenRequests).toBe(1);
  });
});
