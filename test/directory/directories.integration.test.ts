import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { isDirectoryEnabled } from "../../src/directory/directories";
import { directoryEvent, type DirectoryEvent } from "../../src/events";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { signedDelivery } from "../support/scalekit";

/**
 * Directory lifecycle: Scalekit's `organization.directory_enabled` / `_disabled` recorded as a
 * version-guarded snapshot, converging in any arrival order, and changing nothing about users.
 */

/**
 * The documented event (Scalekit "Directory events" reference, as gathered in
 * shared/docs/providers.md): envelope plus `data` with id, directory_type, enabled,
 * organization_id, provider, updated_at, last_sync_at and status.
 */
function directoryWebhook(type: "organization.directory_enabled" | "organization.directory_disabled", overrides: Record<string, unknown> = {}, occurredAt = "2024-09-25T02:26:39.036398577Z") {
  return {
    spec_version: "1",
    id: "evt_38862741515010856",
    type,
    occurred_at: occurredAt,
    environment_id: "env_27758032200925221",
    organization_id: "org_38862704181576508",
    object: "Directory",
    data: {
      id: "dir_38862710567846236",
      directory_type: "SCIM",
      enabled: type === "organization.directory_enabled",
      organization_id: "org_38862704181576508",
      provider: "OKTA",
      updated_at: "2024-09-25T02:26:39.0295Z",
      last_sync_at: null,
      status: "IN_PROGRESS",
      ...overrides,
    },
  };
}

const delivery = (body: unknown) => signedDelivery(body);

describe("the Scalekit adapter reads directory events", () => {
  it("maps organization.directory_enabled in the documented shape to directory_changed", () => {
    const result = scalekit.parse(delivery(directoryWebhook("organization.directory_enabled")));
    expect(result.outcome).toBe("event");
    if (result.outcome !== "event") return;
    expect(directoryEvent.parse(result.event)).toEqual(result.event);
    expect(result.event).toEqual({
      provider: "scalekit",
      eventId: "evt_38862741515010856",
      occurredAt: Date.parse("2024-09-25T02:26:39.036Z"),
      occurredAtNanos: 398_577,
      sourceType: "organization.directory_enabled",
      kind: "directory_changed",
      directory: { id: "dir_38862710567846236", organizationId: "org_38862704181576508", directoryType: "SCIM", idpProvider: "OKTA", enabled: true, status: "IN_PROGRESS" },
    });
  });

  it("a directory_disabled without `enabled` is disabled by its type", () => {
    const body = directoryWebhook("organization.directory_disabled", { enabled: undefined, status: undefined, organization_id: undefined });
    const result = scalekit.parse(delivery(body));
    expect(result).toMatchObject({ outcome: "event", event: { kind: "directory_changed", directory: { enabled: false, status: null, organizationId: "org_38862704181576508" } } });
  });

  it("a documented field of the wrong type makes the delivery invalid, never guessed at", () => {
    const result = scalekit.parse(delivery(directoryWebhook("organization.directory_enabled", { enabled: "yes" })));
    expect(result).toMatchObject({ outcome: "invalid", issues: [expect.stringContaining("data.enabled")] });
  });
});

const t = Date.parse("2026-04-01T00:00:00Z");

function change(eventId: string, occurredAt: number, enabled: boolean, status: string, occurredAtNanos?: number): DirectoryEvent {
  return {
    provider: "scalekit",
    eventId,
    occurredAt,
    ...(occurredAtNanos === undefined ? {} : { occurredAtNanos }),
    sourceType: enabled ? "organization.directory_enabled" : "organization.directory_disabled",
    kind: "directory_changed",
    directory: { id: "dir_1", organizationId: "org_1", directoryType: "SCIM", idpProvider: status === "okta" ? "OKTA" : "AZURE_AD", enabled, status },
  };
}

async function apply(batch: DirectoryEvent[]) {
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
  expect(result.retryMessages).toEqual([]);
}

async function directoryRow() {
  return env.DB.prepare("SELECT provider, id, organization_id, directory_type, idp_provider, enabled, status, last_event_at, last_event_version FROM directories WHERE id = 'dir_1'").first();
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("directory_changed is applied version-guarded", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM directories; DELETE FROM users; DELETE FROM work_claims;");
  });

  let run = 0;
  it.each(permutations([0, 1, 2]).map((order) => [order.join(" → "), order]))("enabled → disabled → enabled converges when they arrive %s, one by one and in one batch", async (_, order) => {
    const history = (prefix: string) => [change(`${prefix}_a`, t, true, "okta"), change(`${prefix}_b`, t + 1000, false, "paused"), change(`${prefix}_c`, t + 2000, true, "in_sync")];
    const oneByOne = history(`one_${run}`);
    for (const i of order as number[]) await apply([oneByOne[i]!]);
    const expected = { provider: "scalekit", id: "dir_1", organization_id: "org_1", directory_type: "SCIM", idp_provider: "AZURE_AD", enabled: 1, status: "in_sync", last_event_at: t + 2000 };
    expect(await directoryRow()).toMatchObject(expected);

    await env.DB.exec("DELETE FROM directories;");
    const batched = history(`batch_${run++}`);
    await apply((order as number[]).map((i) => batched[i]!));
    expect(await directoryRow()).toMatchObject(expected);
  });

  it("a disable later in the same millisecond wins over the enable (sub-millisecond order), whichever arrives last", async () => {
    await apply([change("ns_disable", t, false, "paused", 600_000)]);
    await apply([change("ns_enable", t, true, "in_sync", 500_000)]);
    expect(await directoryRow()).toMatchObject({ enabled: 0, status: "paused" });
  });

  it("a replayed, already applied event changes nothing", async () => {
    await apply([change("dup_new", t + 10, false, "paused")]);
    await apply([change("dup_old", t, true, "in_sync")]);
    await apply([change("dup_old", t, true, "in_sync")]);
    expect(await directoryRow()).toMatchObject({ enabled: 0, status: "paused" });
  });

  it("disabling a directory leaves its users as they are, and its later user events still apply", async () => {
    await apply([events.userUpserted("u_kept", t, { email: "kept@example.com" })]);
    await apply([change("keep_disable", t + 10, false, "paused")]);
    const user = () => env.DB.prepare("SELECT active, deleted_at, email FROM users WHERE external_id = 'u_kept'").first();
    expect(await user()).toEqual({ active: 1, deleted_at: null, email: "kept@example.com" });
    await apply([events.userUpserted("u_kept", t + 20, { email: "still@example.com" })]);
    expect(await user()).toEqual({ active: 1, deleted_at: null, email: "still@example.com" });
  });
});

describe("isDirectoryEnabled", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM directories; DELETE FROM work_claims;");
  });

  it("is false only for a directory last reported disabled", async () => {
    expect(await isDirectoryEnabled(env.DB, "scalekit", "dir_1")).toBe(true);
    await apply([change("is_off", t, false, "paused")]);
    expect(await isDirectoryEnabled(env.DB, "scalekit", "dir_1")).toBe(false);
    expect(await isDirectoryEnabled(env.DB, "firstup", "dir_1")).toBe(true);
    await apply([change("is_on", t + 1, true, "in_sync")]);
    expect(await isDirectoryEnabled(env.DB, "scalekit", "dir_1")).toBe(true);
  });
});
