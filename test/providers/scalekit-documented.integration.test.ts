import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { directoryEvent, type DirectoryEvent } from "../../src/events";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { ADMIN } from "../support/seed";
import { callApp } from "../support/worker";

/**
 * Scalekit's documented webhook shapes, end to end (adapter → queue consumer → D1).
 *
 * Fixtures follow Scalekit's developer docs, "Directory events" reference, field for field as
 * quoted in shared/docs/providers.md ("Scalekit directory webhooks"): the envelope, the full
 * user_created/user_updated `data`, the minimal user_deleted and group events. Values are
 * illustrative; the `occurred_at` example is the reference's own.
 */

const envelope = (type: string, object: string, data: Record<string, unknown>, id: string, occurredAt = "2024-09-25T02:26:39.036398577Z") => ({
  spec_version: "1",
  id,
  type: `organization.directory.${type}`,
  occurred_at: occurredAt,
  environment_id: "env_27758032200925221",
  organization_id: "org_59615193906282635",
  object,
  data,
});

const documentedUser = (overrides: Record<string, unknown> = {}) => ({
  id: "diruser_59615204179034571",
  organization_id: "org_59615193906282635",
  dp_id: "00u9x7example",
  preferred_username: "John.Doe@Example.com",
  email: "john.doe@example.com",
  active: true,
  name: "John Doe",
  given_name: "John",
  family_name: "Doe",
  nickname: "Johnny",
  picture: "https://example.com/john.png",
  phone_number: "+1-555-0100",
  address: { formatted: "1 Main St, Springfield", country: "US" },
  roles: [{ role_name: "billing_admin" }, { role_name: "viewer" }],
  groups: [
    { id: "dirgroup_eng", name: "Engineering" },
    { id: "dirgroup_ops", name: "Operations" },
  ],
  custom_attributes: { badge: 42, mobile: "+1-555-0101" },
  raw_attributes: { "urn:ietf:params:scim:schemas:core:2.0:User": { secret: "never stored" } },
  cost_center: "CC-7",
  department: "R&D",
  division: "Platform",
  employee_id: "E-1001",
  organization: "Example Corp",
  title: "Engineer",
  user_type: "Employee",
  locale: "en-US",
  language: "en",
  zoneinfo: "America/Los_Angeles",
  an_undocumented_field: { tolerated: true },
  ...overrides,
});

function parse(body: unknown): DirectoryEvent {
  const result = scalekit.parse({ body, rawBody: new TextEncoder().encode(JSON.stringify(body)), headers: new Headers(), webhookId: null, signedAtMs: null, receivedAtMs: 0 });
  if (result.outcome !== "event") throw new Error(`not an event: ${JSON.stringify(result)}`);
  return directoryEvent.parse(result.event);
}

async function deliver(...bodies: unknown[]) {
  for (const body of bodies) {
    const { result } = await deliverBatch([eventMessage(parse(body))]);
    expect(result.retryMessages).toEqual([]);
  }
}

const row = async (query: string, ...binds: unknown[]) => env.DB.prepare(query).bind(...binds).first<Record<string, unknown>>();
const all = async (query: string, ...binds: unknown[]) => (await env.DB.prepare(query).bind(...binds).all()).results;

describe("Scalekit's documented directory events", () => {
  it("reads occurred_at to the nanosecond", () => {
    expect(parse(envelope("user_created", "DirectoryUser", documentedUser(), "evt_time"))).toMatchObject({
      occurredAt: Date.parse("2024-09-25T02:26:39.036Z"),
      occurredAtNanos: 398_577,
    });
  });

  it("lands the user: externalId, userName, attributes, provider roles and memberships", async () => {
    await deliver(envelope("user_created", "DirectoryUser", documentedUser(), "evt_user_1"));
    const user = await row("SELECT * FROM users WHERE external_id = 'diruser_59615204179034571'");
    expect(user).toMatchObject({ scim_external_id: "00u9x7example", user_name: "John.Doe@Example.com", email: "john.doe@example.com", organization_id: "org_59615193906282635" });
    expect(JSON.parse(String(user!.provider_roles))).toEqual(["billing_admin", "viewer"]);
    expect(JSON.parse(String(user!.attributes))).toEqual({
      employeeNumber: "E-1001",
      costCenter: "CC-7",
      organization: "Example Corp",
      division: "Platform",
      department: "R&D",
      title: "Engineer",
      userType: "Employee",
      locale: "en-US",
      preferredLanguage: "en",
      timezone: "America/Los_Angeles",
      nickName: "Johnny",
      picture: "https://example.com/john.png",
      phoneNumber: "+1-555-0100",
      "name.formatted": "John Doe",
      "address.country": "US",
      "address.formatted": "1 Main St, Springfield",
      "custom.badge": 42,
      "custom.mobile": "+1-555-0101",
    });
    expect(JSON.stringify(user)).not.toContain("never stored");
    expect(await all("SELECT group_external_id FROM group_members WHERE user_external_id = 'diruser_59615204179034571' ORDER BY 1")).toEqual([
      { group_external_id: "dirgroup_eng" },
      { group_external_id: "dirgroup_ops" },
    ]);
    expect(await all("SELECT external_id, name, organization_id FROM groups WHERE external_id LIKE 'dirgroup_%' ORDER BY 1")).toEqual([
      { external_id: "dirgroup_eng", name: "Engineering", organization_id: "org_59615193906282635" },
      { external_id: "dirgroup_ops", name: "Operations", organization_id: "org_59615193906282635" },
    ]);
  });

  it("/v1 shows provider roles and ROLE_MAPPING roles, each labelled with its source", async () => {
    const ROLE_MAPPING = JSON.stringify([{ provider: "scalekit", organization_id: "org_59615193906282635", group_id: "dirgroup_eng", roles: ["developer", "viewer"] }]);
    const response = await callApp(new Request("https://sync.example.com/v1/users/scalekit/diruser_59615204179034571", { headers: ADMIN }), { ROLE_MAPPING });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.roles).toEqual(["billing_admin", "developer", "viewer"]);
    expect(body.role_sources).toEqual([
      { role: "billing_admin", source: "provider" },
      { role: "developer", source: "mapping" },
      { role: "viewer", source: "mapping" },
      { role: "viewer", source: "provider" },
    ]);
  });

  it("two events 100 µs apart, delivered newest first, converge to the later one", async () => {
    const id = "diruser_bulk";
    const created = envelope("user_created", "DirectoryUser", documentedUser({ id, title: "Created", groups: [{ id: "dirgroup_a", name: "A" }] }), "evt_zz_created", "2024-09-25T02:26:39.036398577Z");
    const updated = envelope("user_updated", "DirectoryUser", documentedUser({ id, title: "Updated", groups: [] }), "evt_aa_updated", "2024-09-25T02:26:39.036498577Z");
    await deliver(updated, created);
    const user = await row("SELECT attributes ->> '$.title' AS title FROM users WHERE external_id = ?", id);
    expect(user).toEqual({ title: "Updated" });
    expect(await all("SELECT * FROM group_members WHERE user_external_id = ?", id)).toEqual([]);
  });

  it("groups: null leaves memberships alone; the minimal user_deleted works", async () => {
    const id = "diruser_minimal";
    await deliver(envelope("user_created", "DirectoryUser", documentedUser({ id, groups: [{ id: "dirgroup_eng", name: "Engineering" }] }), "evt_m1", "2024-09-25T02:26:40.000000001Z"));
    await deliver(envelope("user_updated", "DirectoryUser", documentedUser({ id, groups: null }), "evt_m2", "2024-09-25T02:26:41.000000Z"));
    expect(await all("SELECT group_external_id FROM group_members WHERE user_external_id = ?", id)).toEqual([{ group_external_id: "dirgroup_eng" }]);
    const minimal = { id, organization_id: "org_59615193906282635", dp_id: "00u9x7example", email: "john.doe@example.com" };
    await deliver(envelope("user_deleted", "DirectoryUser", minimal, "evt_m3", "2024-09-25T02:26:42.000000Z"));
    expect(await row("SELECT active, deleted_at IS NOT NULL AS deleted, scim_external_id FROM users WHERE external_id = ?", id)).toEqual({ active: 0, deleted: 1, scim_external_id: "00u9x7example" });
    expect(await all("SELECT * FROM group_members WHERE user_external_id = ?", id)).toEqual([]);
  });

  it("group events: display_name names the group; a group's own event replaces the name a user event gave it", async () => {
    const group = { id: "dirgroup_eng", directory_id: "dir_59615204179034570", display_name: "Engineering (IdP)", external_id: null, organization_id: "org_59615193906282635", raw_attributes: {} };
    await deliver(envelope("group_updated", "DirectoryGroup", group, "evt_g1", "2024-09-25T02:00:00.000000Z"));
    expect(await row("SELECT name, directory_id FROM groups WHERE external_id = 'dirgroup_eng'")).toEqual({ name: "Engineering (IdP)", directory_id: "dir_59615204179034570" });
  });

  it("quarantines a documented field of the wrong type, naming the path only", () => {
    const result = scalekit.parse({
      body: envelope("user_updated", "DirectoryUser", documentedUser({ roles: "billing_admin" }), "evt_bad"),
      rawBody: new Uint8Array(),
      headers: new Headers(),
      webhookId: null,
      signedAtMs: null,
      receivedAtMs: 0,
    });
    expect(result).toEqual({ outcome: "invalid", issues: ["data.roles: invalid_type"] });
  });

  it("bounds attributes: past 100 keys or 8 KiB, custom attributes are cut in key order and marked", () => {
    const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`k${String(i).padStart(3, "0")}`, "x".repeat(100)]));
    const event = parse(envelope("user_updated", "DirectoryUser", documentedUser({ custom_attributes: many }), "evt_big"));
    const attributes = (event as Extract<DirectoryEvent, { kind: "user_upserted" }>).user.attributes!;
    expect(attributes._truncated).toBe(true);
    expect(attributes.employeeNumber).toBe("E-1001");
    expect(new TextEncoder().encode(JSON.stringify(attributes)).length).toBeLessThanOrEqual(8192);
    expect(Object.keys(attributes).length).toBeLessThanOrEqual(100);
  });
});
