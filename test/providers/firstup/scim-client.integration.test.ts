import { describe, expect, it } from "vitest";
import { isLastPage, scanPages, ScimRequestError, scimString } from "../../../src/providers/firstup/scim-client";
import { parseRetryAfter } from "../../../src/providers/shared/retry-after";
import { toDirectoryUser } from "../../../src/providers/firstup/scim-user";
import { scimUser, upstreamTenant } from "../../support/upstream";

/** Against the real SCIM server in test/support/scim-server.ts, with its quirks switched on. */

const users = (n: number, prefix = "u") => Array.from({ length: n }, (_, i) => scimUser(`${prefix}${String(i).padStart(4, "0")}`));

async function scanAll(client: ReturnType<ReturnType<typeof upstreamTenant>["client"]>, pageSize = 100) {
  const ids: string[] = [];
  let pages = 0;
  for await (const page of scanPages((start, count) => client.listUsers(start, count), { pageSize, maxPages: 100 })) {
    pages++;
    ids.push(...page.users.map((user) => user.id));
  }
  return { ids, pages };
}

describe("SCIM client against a real SCIM server", () => {
  it("reads 250 users from a server that caps count at 50, advancing by what each page returned", async () => {
    const tenant = upstreamTenant("client-cap");
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    const { ids, pages } = await scanAll(tenant.client(), 100);
    expect(new Set(ids).size).toBe(250);
    expect(ids).toHaveLength(250);
    // Five full pages of 50, then one past the end; this server answers that with its first page
    // again, which the client recognizes as a wrap-around rather than new users.
    expect(pages).toBe(5);
  });

  it("reads every user from a server that under-reports totalResults", async () => {
    const tenant = upstreamTenant("client-undercount");
    await tenant.reset({ users: users(120), quirks: { underreportTotal: 15 } });
    const { ids } = await scanAll(tenant.client(), 50);
    expect(new Set(ids).size).toBe(120);
  });

  it("stops at the page cap against a server that never runs dry", async () => {
    let calls = 0;
    const pages = scanPages(
      async () => {
        calls++;
        return { users: [], invalid: 0, received: 10, totalResults: 10, itemsPerPage: 10 };
      },
      { pageSize: 10, maxPages: 7 },
    );
    for await (const _ of pages) void _;
    expect(calls).toBe(7);
  });

  it("decides the last page from the page itself, not from itemsPerPage alone", () => {
    expect(isLastPage({ received: 0, totalResults: 100, itemsPerPage: 50 }, 1, 100)).toBe(true);
    expect(isLastPage({ received: 50, totalResults: 250, itemsPerPage: 50 }, 1, 100)).toBe(false); // capped, not short
    expect(isLastPage({ received: 30, totalResults: 130, itemsPerPage: 50 }, 101, 50)).toBe(true);
    expect(isLastPage({ received: 30, totalResults: 200, itemsPerPage: 50 }, 101, 50)).toBe(false); // short but more exist
    expect(isLastPage({ received: 50, totalResults: 100, itemsPerPage: null }, 100, 100)).toBe(true);
  });

  it("waits out 429 Retry-After twice, then succeeds", async () => {
    const tenant = upstreamTenant("client-429");
    await tenant.reset({ users: users(3), quirks: { throttle: { times: 2, retryAfterSeconds: 1 } } });
    const waits: number[] = [];
    const client = tenant.client({ sleep: async (ms) => void waits.push(ms) });
    const page = await client.listUsers(1, 10);
    expect(page.users).toHaveLength(3);
    expect(waits).toEqual([1000, 1000]);
    expect((await tenant.stats()).requests).toBe(3);
  });

  it("gives up within its budget when Retry-After is longer than it may wait", async () => {
    const tenant = upstreamTenant("client-429-long");
    await tenant.reset({ users: users(1), quirks: { throttle: { times: 5, retryAfterSeconds: 3600 } } });
    const error = await tenant.client({ sleep: async () => {} }).listUsers(1, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimRequestError);
    expect((error as ScimRequestError).kind).toBe("unavailable");
    expect((error as ScimRequestError).transient).toBe(true);
    expect((await tenant.stats()).requests).toBe(1);
  });

  it.each([
    [500, 2],
    [503, 1],
    ["garbage" as const, 2],
  ])("retries %s with backoff and recovers", async (status, times) => {
    const tenant = upstreamTenant(`client-${status}`);
    await tenant.reset({ users: users(2), quirks: { failures: { times, status } } });
    const waits: number[] = [];
    const page = await tenant.client({ sleep: async (ms) => void waits.push(ms) }).listUsers(1, 10);
    expect(page.users).toHaveLength(2);
    expect(waits).toHaveLength(times);
  });

  it("fails with a transient error after its attempts when the server keeps failing", async () => {
    const tenant = upstreamTenant("client-500-forever");
    await tenant.reset({ users: users(1), quirks: { failures: { times: 100, status: 500 } } });
    const error = await tenant.client({ sleep: async () => {}, maxAttempts: 3 }).getUser("u0000").catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unavailable", status: 500 });
    expect((await tenant.stats()).requests).toBe(3);
  });

  it("reports 401 as a configuration error at once, without retrying or echoing the token", async () => {
    const tenant = upstreamTenant("client-401");
    await tenant.reset({ users: users(1), token: "the-right-token" });
    const error = await tenant.client({ token: "a-wrong-token", sleep: async () => {} }).getUser("u0000").catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unauthorized", status: 401 });
    expect(String(error)).toContain("check the SCIM token");
    expect(String(error)).not.toContain("a-wrong-token");
    expect((await tenant.stats()).requests).toBe(1);
  });

  it("times out a request that does not answer", async () => {
    const client = upstreamTenant("client-timeout").client({
      fetch: (_input, init) => new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))),
      timeoutMs: 50,
      maxAttempts: 2,
      sleep: async () => {},
    });
    const error = await client.getUser("x").catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unavailable" });
    expect(String(error)).toContain("no response within 50 ms");
  });

  it("returns null for a user the upstream does not know (404)", async () => {
    const tenant = upstreamTenant("client-404");
    await tenant.reset({ users: users(1) });
    expect(await tenant.client().getUser("nobody")).toBeNull();
    expect((await tenant.client().getUser("u0000"))?.id).toBe("u0000");
  });

  it.each(['quote"inside@example.com', "back\\slash@example.com", "plus+tag@example.com", "alice and bob@example.com", 'mixed "a" and \\b+c'])(
    "finds userName %j exactly, escaping the filter",
    async (userName) => {
      const tenant = upstreamTenant(`client-filter-${encodeURIComponent(userName).slice(0, 20)}`);
      await tenant.reset({
        users: [
          scimUser("target", { userName }),
          scimUser("decoy-prefix", { userName: `${userName}x` }),
          scimUser("decoy-near", { userName: userName.replace(/[+"\\]/g, " ").replace(" and ", " or ") }),
          ...users(5),
        ],
      });
      const found = await tenant.client().findUsersByUserName(userName);
      expect(found.map((user) => user.id)).toEqual(["target"]);
    },
  );

  it("escapes filter values per RFC 7644", () => {
    expect(scimString('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon")).toBeNull();
  });

  it("lists groups with members, and returns null when the upstream has no /Groups", async () => {
    const tenant = upstreamTenant("client-groups");
    await tenant.reset({ users: users(2), groups: [{ id: "g1", displayName: "Sales", members: [{ value: "u0000" }, { value: "u0001" }] }] });
    const page = await tenant.client().listGroups(1, 10);
    expect(page?.groups[0]).toMatchObject({ id: "g1", displayName: "Sales", members: [{ value: "u0000" }, { value: "u0001" }] });
    const noGroups = tenant.client({ fetch: async (input) => (String(input).includes("/Groups") ? new Response(null, { status: 404 }) : fetch(input)) });
    expect(await noGroups.listGroups(1, 10)).toBeNull();
  });

  it("maps a SCIM user (primary email, names, enterprise extension) to the directory user", async () => {
    const tenant = upstreamTenant("client-map");
    const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    await tenant.reset({
      users: [
        scimUser("m1", {
          emails: [{ value: "other@example.com", type: "home" }, { value: "work@example.com", type: "work", primary: true }],
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
          [enterprise]: { employeeNumber: "E42", department: "Finance", manager: { value: "m0" } },
          active: false,
        }),
      ],
    });
    const user = await tenant.client().getUser("m1");
    expect(toDirectoryUser(user!)).toEqual({
      externalId: "m1",
      email: "work@example.com",
      firstName: "Given m1",
      lastName: "Family",
      active: false,
      organizationId: null,
      directoryId: null,
      userName: "m1@example.com",
      scimExternalId: "hr-m1",
      attributes: { employeeNumber: "E42", department: "Finance", manager: "m0" },
    });
  });
});
