import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, configProblems, firstupApiConfig } from "../../../src/config";
import {
  apiUrlFromScimUrl,
  assessSubscriptions,
  parseSubscription,
  planSubscription,
  type FirstupSubscription,
  type SubscriptionListing,
} from "../../../src/providers/firstup/subscriptions";

/** The pure half of src/providers/firstup/subscriptions.ts: parsing, the check, the plan. */

const HERE = "https://sync.example.com/webhooks/firstup";
const USER_EVENTS = [
  { name: "user.updated", version: "1" },
  { name: "user.deactivated", version: "1" },
  { name: "user.deleted", version: "1" },
];

function subscription(fields: Record<string, unknown>): FirstupSubscription {
  const parsed = parseSubscription({ id: "sub_1", url: HERE, active: true, events: USER_EVENTS, ...fields });
  if (!parsed) throw new Error("test subscription does not parse");
  return parsed;
}
const listing = (...subscriptions: FirstupSubscription[]): SubscriptionListing => ({ subscriptions, complete: true });
const codes = (problems: { code: string }[]) => problems.map((problem) => problem.code);
const noHeaderCheck = { expectedUrl: HERE, acceptedAuthorization: null };

describe("parseSubscription", () => {
  it("reads Firstup's documented record, keeps going past unknown fields, and reads a numeric id or version", () => {
    const parsed = parseSubscription({
      id: 42,
      url: HERE,
      active: true,
      events: [{ name: "user.updated", version: 1, filters: {} }],
      created_at: "2000-01-01T00:00:00Z",
      delivery_stats: { failed: 3 },
    });
    expect(parsed).toEqual({ id: "42", name: null, url: HERE, active: true, events: [{ name: "user.updated", version: "1" }], hasAuthorizationHeader: false });
  });

  it("never exposes the authorization header's value, only that one is set", () => {
    const parsed = parseSubscription({ id: "s", url: HERE, active: true, events: [], authorization_header: "Bearer secret-value" });
    expect(parsed?.hasAuthorizationHeader).toBe(true);
    expect(JSON.stringify(parsed)).not.toContain("secret-value");
  });

  it("refuses a record without the fields the check stands on", () => {
    expect(parseSubscription({ id: "s", url: HERE, events: [] })).toBeNull(); // no active
    expect(parseSubscription({ id: "s", active: true, events: [] })).toBeNull(); // no url
    expect(parseSubscription({ url: HERE, active: true })).toBeNull(); // no id
  });
});

describe("assessSubscriptions", () => {
  it("is ok with one active subscription to the URL carrying the three events at version 1", async () => {
    const ours = subscription({});
    const assessment = await assessSubscriptions(listing(ours), noHeaderCheck);
    expect(assessment).toMatchObject({ ok: true, healthy: ours, problems: [] });
  });

  it("compares URLs in canonical form (host case, default port)", async () => {
    const assessment = await assessSubscriptions(listing(subscription({ url: "https://SYNC.example.com:443/webhooks/firstup" })), noHeaderCheck);
    expect(assessment.ok).toBe(true);
  });

  it("flags an inactive subscription, and says nothing delivers", async () => {
    const assessment = await assessSubscriptions(listing(subscription({ active: false })), noHeaderCheck);
    expect(assessment.ok).toBe(false);
    expect(assessment.problems).toEqual([
      { code: "not_subscribed", url: HERE },
      { code: "inactive", id: "sub_1", url: HERE },
    ]);
  });

  it("flags missing events and another version, naming them", async () => {
    const assessment = await assessSubscriptions(listing(subscription({ events: [{ name: "user.updated", version: "2" }, { name: "user.deleted", version: "1" }] })), noHeaderCheck);
    expect(assessment.problems).toContainEqual({ code: "missing_events", id: "sub_1", url: HERE, events: ["user.deactivated"] });
    expect(assessment.problems).toContainEqual({ code: "wrong_version", id: "sub_1", url: HERE, events: [{ name: "user.updated", version: "2" }] });
  });

  it("flags user events sent elsewhere, even beside a healthy subscription, and leaves other integrations alone", async () => {
    const elsewhere = subscription({ id: "sub_old", url: "https://old.example.com/webhooks/firstup" });
    const cms = subscription({ id: "sub_cms", url: "https://cms.example.com/hook", events: [{ name: "content_published", version: "1" }] });
    const assessment = await assessSubscriptions(listing(subscription({}), elsewhere, cms), noHeaderCheck);
    expect(assessment.problems).toEqual([{ code: "elsewhere", id: "sub_old", url: "https://old.example.com/webhooks/firstup" }]);
    expect(assessment.relevant.map((relevant) => relevant.id)).toEqual(["sub_1", "sub_old"]);
    expect(assessment.healthy?.id).toBe("sub_1");
  });

  it("flags two active subscriptions to the URL (every event twice), but not an inactive second one", async () => {
    const twice = await assessSubscriptions(listing(subscription({}), subscription({ id: "sub_2" })), noHeaderCheck);
    expect(twice.problems).toEqual([{ code: "duplicate", ids: ["sub_1", "sub_2"], url: HERE }]);
    const staleSecond = await assessSubscriptions(listing(subscription({}), subscription({ id: "sub_2", active: false })), noHeaderCheck);
    expect(codes(staleSecond.problems)).toEqual(["inactive"]);
  });

  it("in header mode, flags a reported Authorization value the Worker does not accept; an unreported one is not judged", async () => {
    const expectations = { expectedUrl: HERE, acceptedAuthorization: ["Bearer new", "Bearer old"] };
    expect((await assessSubscriptions(listing(subscription({ authorization_header: "Bearer old" })), expectations)).ok).toBe(true);
    const refused = await assessSubscriptions(listing(subscription({ authorization_header: "Bearer other" })), expectations);
    expect(codes(refused.problems)).toEqual(["not_subscribed", "authorization_mismatch"]);
    expect(JSON.stringify(refused)).not.toMatch(/Bearer (other|old|new)/);
    expect((await assessSubscriptions(listing(subscription({})), expectations)).ok).toBe(true);
    // Signature mode (null): the header plays no part.
    expect((await assessSubscriptions(listing(subscription({ authorization_header: "Bearer other" })), noHeaderCheck)).ok).toBe(true);
  });

  it("without an expected URL, judges every subscription carrying user events", async () => {
    const partial = subscription({ id: "sub_partial", url: "https://a.example.com/x", events: [{ name: "user.updated", version: "1" }] });
    const full = subscription({ id: "sub_full", url: "https://b.example.com/y" });
    const assessment = await assessSubscriptions(listing(partial, full), { expectedUrl: null, acceptedAuthorization: null });
    expect(assessment.healthy?.id).toBe("sub_full");
    expect(codes(assessment.problems)).toEqual(["missing_events"]);
  });

  it("says when the listing was cut short", async () => {
    const assessment = await assessSubscriptions({ subscriptions: [subscription({})], complete: false }, noHeaderCheck);
    expect(codes(assessment.problems)).toEqual(["listing_incomplete"]);
  });
});

describe("planSubscription", () => {
  const wanted = { url: HERE, name: "directory-sync", authorization: null };

  it("does nothing when a working subscription exists", async () => {
    expect(await planSubscription(listing(subscription({})), wanted)).toMatchObject({ action: "none", subscription: { id: "sub_1" } });
  });

  it("creates one when none points at the URL, with the header value in header mode", async () => {
    const elsewhere = subscription({ url: "https://old.example.com/webhooks/firstup" });
    expect(await planSubscription(listing(elsewhere), wanted)).toEqual({ action: "create", input: { name: "directory-sync", url: HERE, active: true, events: USER_EVENTS } });
    expect(await planSubscription(listing(), { ...wanted, authorization: "Bearer v" })).toMatchObject({ action: "create", input: { authorization_header: "Bearer v" } });
  });

  it("repairs the closest subscription at the URL, saying what differs, keeping its other events", async () => {
    const inactive = subscription({ id: "sub_off", active: false, events: [{ name: "content_published", version: "1" }, { name: "user.updated", version: "2" }] });
    const plan = await planSubscription(listing(inactive), wanted);
    expect(plan).toEqual({
      action: "update",
      subscription: inactive,
      changes: ["active: false → true", "events: add user.deactivated (version 1)", "events: add user.deleted (version 1)", "events: user.updated version 2 → 1"],
      patch: { active: true, events: [{ name: "content_published", version: "1" }, ...USER_EVENTS] },
    });
  });

  it("prefers the active subscription when several at the URL need repair", async () => {
    const off = subscription({ id: "sub_off", active: false });
    const partial = subscription({ id: "sub_partial", events: [{ name: "user.updated", version: "1" }] });
    expect(await planSubscription(listing(off, partial), wanted)).toMatchObject({ action: "update", subscription: { id: "sub_partial" }, patch: { events: USER_EVENTS } });
  });

  it("replaces only the header when only the header differs", async () => {
    const plan = await planSubscription(listing(subscription({ authorization_header: "Bearer old" })), { ...wanted, authorization: "Bearer new" });
    expect(plan).toMatchObject({ action: "update", changes: ["authorization_header: replaced (values not shown)"], patch: { authorization_header: "Bearer new" } });
    expect(plan.action === "update" && plan.changes.join(" ")).not.toContain("Bearer");
  });

  it("refuses to create when the listing was cut short (one may exist unseen)", async () => {
    expect(await planSubscription({ subscriptions: [], complete: false }, wanted)).toEqual({ action: "refuse", reason: "listing_incomplete" });
  });
});

describe("where Firstup's API is", () => {
  it("derives the API base from the SCIM base (one host per region)", () => {
    expect(apiUrlFromScimUrl("https://partner.socialchorus.com/scim/v2")).toBe("https://partner.socialchorus.com");
    expect(apiUrlFromScimUrl("https://partner.onfirstup.eu/scim/v2/")).toBe("https://partner.onfirstup.eu");
    expect(apiUrlFromScimUrl("http://127.0.0.1:8788/t/demo/scim/v2")).toBe("http://127.0.0.1:8788/t/demo");
    expect(apiUrlFromScimUrl("https://scim.example.com/v2")).toBeNull();
    expect(apiUrlFromScimUrl("http://partner.socialchorus.com/scim/v2")).toBeNull(); // a token in clear
  });

  it("takes FIRSTUP_API_URL first, FIRSTUP_SCIM_URL's host otherwise, and rejects plain http off loopback", () => {
    const base = { ...env, FIRSTUP_API_TOKEN: " token " };
    expect(firstupApiConfig({ ...base, FIRSTUP_API_URL: "https://partner.us2.onfirstup.com" })).toEqual({ url: "https://partner.us2.onfirstup.com", token: "token" });
    expect(firstupApiConfig({ ...base, FIRSTUP_API_URL: "", FIRSTUP_SCIM_URL: "https://partner.socialchorus.com/scim/v2" }).url).toBe("https://partner.socialchorus.com");
    expect(firstupApiConfig({ ...base, FIRSTUP_API_URL: "", FIRSTUP_SCIM_URL: "" })).toEqual({ url: null, token: "token" });
    expect(firstupApiConfig({ ...env, FIRSTUP_API_TOKEN: "" }).token).toBeNull();
    const insecure = { ...base, FIRSTUP_API_URL: "http://partner.socialchorus.com" };
    expect(() => firstupApiConfig(insecure)).toThrow(ConfigError);
    expect(configProblems(insecure)).toContainEqual({ setting: "FIRSTUP_API_URL", problem: "custom" });
  });
});
