import { describe, expect, it } from "vitest";
import { directoryEvent } from "../../src/events";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { toQueueMessages, MAX_MESSAGE_BYTES, messageBytes } from "../../src/queue-message";
import { signedDelivery } from "../support/scalekit";

/**
 * An authentic user event is never lost for a detail: an empty role, an overlong optional field or
 * a user in thousands of groups is still applied (found by review).
 */
const delivery = (body: unknown) => signedDelivery(body, "msg_1");
const userEvent = (data: Record<string, unknown>) => ({
  spec_version: "1",
  id: "evt_lenient",
  type: "organization.directory.user_updated",
  occurred_at: "2026-03-01T10:00:00.123456Z",
  organization_id: "org_1",
  object: "DirectoryUser",
  data: { id: "diruser_1", organization_id: "org_1", email: "a@example.com", active: true, ...data },
});

describe("Scalekit user events that must not be quarantined", () => {
  it("drops an empty role name instead of rejecting the event", () => {
    const result = scalekit.parse(delivery(userEvent({ roles: [{ role_name: "" }, { role_name: "billing_admin" }] })));
    expect(result).toMatchObject({ outcome: "event", event: { user: { providerRoles: ["billing_admin"] } } });
  });

  it("applies a user whose picture URL is longer than any stored attribute", () => {
    const result = scalekit.parse(delivery(userEvent({ picture: `https://cdn.example.com/${"p".repeat(3000)}` })));
    expect(result.outcome).toBe("event");
    if (result.outcome === "event") expect(directoryEvent.safeParse(result.event).success).toBe(true);
  });

  it("a user in 1,200 groups with long names is queued (names dropped to fit), not quarantined", () => {
    const groups = Array.from({ length: 1200 }, (_, i) => ({ id: `dirgroup_${String(i).padStart(26, "0")}`, name: `A rather long group name for the department number ${i} of the company` }));
    const result = scalekit.parse(delivery(userEvent({ groups })));
    expect(result.outcome).toBe("event");
    if (result.outcome !== "event") return;
    const queued = toQueueMessages(result.event, 1);
    expect(queued.ok).toBe(true);
    if (!queued.ok) return;
    expect(queued.messages).toHaveLength(1);
    expect(messageBytes(queued.messages[0]!)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const event = queued.messages[0]!.event;
    expect(event.kind === "user_upserted" && event.groups?.length).toBe(1200);
  });
});
