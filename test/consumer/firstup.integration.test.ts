import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { scimUser, upstreamTenant } from "../support/upstream";

/** Firstup events resolved by the consumer against a real SCIM server. */

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const tenant = upstreamTenant("firstup-consumer");
let sequence = 0;

const refresh = (externalId: string, reason: "updated" | "deactivated" = "updated", occurredAt = Date.parse("2026-03-01T00:00:00Z")): DirectoryEvent => ({
  provider: "firstup",
  eventId: `fu_${sequence++}`,
  occurredAt,
  sourceType: reason === "updated" ? "user.updated" : "user.deactivated",
  kind: "user_refresh",
  externalId,
  reason,
});

const userRow = (externalId: string) =>
  env.DB.prepare(
    `SELECT email, first_name, last_name, user_name, scim_external_id, attributes, active, deleted_at, forgotten_at, last_event_at, fingerprint
     FROM users WHERE provider = 'firstup' AND external_id = ?`,
  )
    .bind(externalId)
    .first<Record<string, unknown>>();
const logRow = (eventId: string) =>
  env.DB.prepare("SELECT status, reason, error, message, subject FROM event_log WHERE provider = 'firstup' AND event_id = ?").bind(eventId).first<Record<string, unknown>>();

describe("Firstup events in the consumer", () => {
  beforeEach(async () => {
    await tenant.reset({
      users: [
        scimUser("u_987", {
          userName: "jane.doe@acme.example",
          externalId: "HR-987",
          name: { givenName: "Jane", familyName: "Doe" },
          emails: [{ value: "jane.personal@example.com", type: "home" }, { value: "jane@acme.example", type: "work", primary: true }],
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
          [ENTERPRISE]: { employeeNumber: "987", department: "Legal" },
          meta: { resourceType: "User", lastModified: "2026-03-02T10:00:00.000Z" },
        }),
        scimUser("u_654", { active: false }),
        scimUser("u_still_active", { active: true }),
      ],
    });
  });

  it("user.updated fetches the current SCIM record and applies its values, versioned by when it was observed", async () => {
    const event = refresh("u_987");
    const before = Date.now();
    const { result } = await deliverBatch([eventMessage(event)], { env: tenant.env() });
    expect(result.explicitAcks).toHaveLength(1);
    const row = await userRow("u_987");
    expect(row).toMatchObject({
      email: "jane@acme.example",
      first_name: "Jane",
      last_name: "Doe",
      user_name: "jane.doe@acme.example",
      scim_external_id: "HR-987",
      attributes: JSON.stringify({ employeeNumber: "987", department: "Legal" }),
      active: 1,
    });
    // One clock per subject: the consumer's observation time, not meta.lastModified (2026-03-02).
    expect(row?.last_event_at).toBeGreaterThanOrEqual(before);
    expect(row?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(await logRow(event.eventId)).toMatchObject({ status: "applied", reason: null, subject: "u_987" });
  });

  it("user.deactivated confirms active:false upstream and deactivates", async () => {
    await deliverBatch([eventMessage(refresh("u_654", "deactivated"))], { env: tenant.env() });
    expect(await userRow("u_654")).toMatchObject({ active: 0 });
  });

  it("an upstream that keeps failing fails only that message: retried, recorded, the rest applied", async () => {
    await tenant.setQuirks({ failures: { times: 1000, status: 503 } });
    const failing = refresh("u_987");
    const scalekitEvent: DirectoryEvent = {
      provider: "scalekit",
      eventId: `sk_${sequence++}`,
      occurredAt: 1,
      sourceType: "organization.directory.group_created",
      kind: "group_upserted",
      group: { externalId: "g_other", name: "Other", organizationId: null, directoryId: null },
    };
    const { result, ids } = await deliverBatch([eventMessage(failing), eventMessage(scalekitEvent)], { env: tenant.env() });
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual([ids[0]]);
    expect(result.explicitAcks).toEqual([ids[1]]);
    expect(await logRow(failing.eventId)).toMatchObject({ status: "failed", error: expect.stringContaining("HTTP 503") });
  }, 60_000);

  it("without a configured upstream, refreshes are retried (and eventually dead-lettered), never dropped", async () => {
    const event = refresh("u_987");
    const { result } = await deliverBatch([eventMessage(event)], { env: { ...env, FIRSTUP_SCIM_URL: "" } });
    expect(result.retryMessages).toHaveLength(1);
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: expect.stringContaining("no upstream is configured") });
  });
});
