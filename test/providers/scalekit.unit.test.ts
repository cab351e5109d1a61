import { describe, expect, it } from "vitest";
import { directoryEvent } from "../../src/events";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { SCALEKIT_ACTIONS, sampleData, scalekitEvent, scalekitGroup, scalekitUser, signedDelivery } from "../support/scalekit";

const delivery = (body: unknown) => signedDelivery(body);

describe("scalekit adapter", () => {
  it.each(SCALEKIT_ACTIONS)("maps organization.directory.%s to a valid neutral event", (action) => {
    const body = scalekitEvent(action, sampleData(action), { id: "evt_1", timestamp: "2026-02-09T10:30:00Z" });
    const result = scalekit.parse(delivery(body));
    expect(result.outcome).toBe("event");
    if (result.outcome !== "event") return;
    expect(directoryEvent.parse(result.event)).toEqual(result.event);
    expect(result.event).toMatchObject({
      provider: "scalekit",
      eventId: "evt_1",
      occurredAt: Date.parse("2026-02-09T10:30:00Z"),
      sourceType: `organization.directory.${action}`,
    });
  });

  it("maps the guide's sample user_created payload field by field", () => {
    const result = scalekit.parse(delivery(scalekitEvent("user_created", scalekitUser())));
    expect(result).toMatchObject({
      outcome: "event",
      event: {
        kind: "user_upserted",
        user: {
          externalId: "user_abc123",
          email: "john@company.com",
          firstName: "John",
          lastName: "Doe",
          active: true,
          organizationId: "org_xyz789",
          directoryId: "dir_456",
        },
      },
    });
  });

  it("keeps user_updated's active flag, and defaults a missing one to active", () => {
    const inactive = scalekit.parse(delivery(scalekitEvent("user_updated", scalekitUser({ active: false }))));
    expect(inactive).toMatchObject({ event: { kind: "user_upserted", user: { active: false } } });
    const { active: _omitted, ...withoutActive } = scalekitUser();
    expect(scalekit.parse(delivery(scalekitEvent("user_created", withoutActive)))).toMatchObject({ event: { user: { active: true } } });
  });

  it("maps deletes to user_deleted / group_deleted", () => {
    expect(scalekit.parse(delivery(scalekitEvent("user_deleted", { id: "user_1" })))).toMatchObject({
      event: { kind: "user_deleted", user: { externalId: "user_1", email: null, firstName: null } },
    });
    expect(scalekit.parse(delivery(scalekitEvent("group_deleted", { id: "group_1" })))).toMatchObject({
      event: { kind: "group_deleted", group: { externalId: "group_1" } },
    });
  });

  it("reads group names from name or display_name", () => {
    const named = scalekit.parse(delivery(scalekitEvent("group_updated", { id: "g", display_name: "Sales" })));
    expect(named).toMatchObject({ event: { kind: "group_upserted", group: { externalId: "g", name: "Sales" } } });
  });

  it("accepts members as ids or {id} objects, dedupes them, and lets removal win over addition", () => {
    const data = { group_id: "g", added_members: ["u1", { id: "u2" }, "u1", "u3"], removed_members: [{ id: "u3" }, "u4"] };
    expect(scalekit.parse(delivery(scalekitEvent("group_membership_updated", data)))).toMatchObject({
      event: { kind: "group_members_changed", groupExternalId: "g", added: ["u1", "u2"], removed: ["u3", "u4"] },
    });
  });

  it("prefers occurred_at, then timestamp, then the signed webhook-timestamp", () => {
    const both = scalekitEvent("group_created", scalekitGroup(), { occurred_at: "2026-01-01T00:00:00Z", timestamp: "2026-01-02T00:00:00Z" });
    expect(scalekit.parse(delivery(both))).toMatchObject({ event: { occurredAt: Date.parse("2026-01-01T00:00:00Z") } });
    const neither = scalekitEvent("group_created", scalekitGroup(), { timestamp: undefined });
    expect(scalekit.parse(delivery(neither))).toMatchObject({ event: { occurredAt: 1_700_000_000_000 } });
  });

  it("falls back to webhook-id when the body has no event id", () => {
    const body = scalekitEvent("group_created", scalekitGroup(), { id: undefined });
    expect(scalekit.parse(delivery(body))).toMatchObject({ event: { eventId: "msg_header_id" } });
  });

  it("ignores well-formed events it does not act on, with a reason", () => {
    for (const type of ["organization.directory.directory_enabled", "organization.created", "organization.directory.toString"]) {
      expect(scalekit.parse(delivery({ id: "evt_2", type, data: {} }))).toEqual({
        outcome: "ignored",
        eventId: "evt_2",
        sourceType: type,
        reason: "unsupported_event_type",
      });
    }
  });

  it.each([
    ["not an object", "hello"],
    ["no type", { id: "evt", data: {} }],
    ["no data", { id: "evt", type: "organization.directory.user_created" }],
    ["bad timestamp", scalekitEvent("user_created", scalekitUser(), { timestamp: "yesterday" })],
    ["user without id", scalekitEvent("user_created", scalekitUser({ id: undefined }))],
    ["members not a list", scalekitEvent("group_membership_updated", { group_id: "g", added_members: "u1" })],
    ["id too long", scalekitEvent("user_created", scalekitUser({ id: "x".repeat(300) }))],
  ])("reports %s as invalid, naming paths but not values", (_label, body) => {
    const result = scalekit.parse(delivery(body));
    expect(result.outcome).toBe("invalid");
    expect(JSON.stringify(result)).not.toContain("john@company.com");
  });
});
