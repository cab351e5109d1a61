import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { sweepErasures } from "../../src/changes/erasure";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { callApp } from "../support/worker";

/**
 * Erasure in the change feed without a subject index (migration 0011): readers redact at once,
 * the retention sweep rewrites the rows, and a pass that reached the end drops the erasure.
 */

const ADMIN = { authorization: "Bearer test-admin-token" };
const T0 = Date.parse("2026-12-01T10:00:00Z");
const apply = (...list: Parameters<typeof eventMessage>[0][]) => deliverBatch(list.map((event) => eventMessage(event)));
const forget = (externalId: string, occurredAt: number, eventId: string) =>
  ({ provider: "scalekit", eventId, occurredAt, sourceType: "test", kind: "user_forgotten", externalId }) as const;
const rawData = async () => (await env.DB.prepare("SELECT seq, type, subject, data FROM changes ORDER BY seq").all<{ seq: number; type: string; subject: string; data: string }>()).results;
const erasures = async () => (await env.DB.prepare("SELECT provider, subject FROM change_erasures").all()).results;
const feedText = async () => (await callApp(new Request("https://sync.example/v1/changes?after=0&limit=500", { headers: ADMIN }))).text();

describe("erasure in the change feed", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM feed_state; DELETE FROM event_log;",
    );
  });

  it("the feed shows ids only at once; the sweep rewrites the rows, spares other subjects and the re-provisioned user's new changes, then drops the erasure", async () => {
    await apply(events.userUpserted("ex", T0, { email: "erase.me@example.com", firstName: "Erased" }));
    await apply(events.userUpserted("keep", T0, { email: "keep.me@example.com" }));
    await apply(forget("ex", T0 + 1, "evt_forget_ex"));
    await apply(events.userUpserted("ex", T0 + 2, { email: "back.again@example.com" }));

    // Before any sweep: the rows still hold the data, the feed never shows it.
    expect(JSON.stringify(await rawData())).toContain("erase.me@example.com");
    const before = await feedText();
    expect(before).not.toContain("erase.me@example.com");
    expect(before).not.toContain("Erased");
    expect(before).toContain("keep.me@example.com");
    expect(before).toContain("back.again@example.com");

    // A window of 1 seq: several calls, each bounded, then the pass ends and drops the erasure.
    const later = Date.now() + 10 * 60 * 1000;
    let calls = 0;
    while ((await erasures()).length > 0 && calls < 20) {
      await sweepErasures(env.DB, later, 1);
      calls++;
    }
    expect(calls).toBeGreaterThan(1);
    expect(await erasures()).toEqual([]);
    const raw = JSON.stringify(await rawData());
    expect(raw).not.toContain("erase.me@example.com");
    expect(raw).not.toContain("Erased");
    expect(raw).toContain("keep.me@example.com");
    expect(raw).toContain("back.again@example.com");
    expect(await feedText()).toContain("back.again@example.com");
  });

  it("an erasure older than a re-provisioning in the same batch still hides the earlier changes", async () => {
    await apply(events.userUpserted("ud", T0, { email: "old.ud@example.com" }));
    await apply(forget("ud", T0 + 1, "evt_forget_ud"), events.userUpserted("ud", T0 + 2, { email: "new.ud@example.com" }));
    const text = await feedText();
    expect(text).not.toContain("old.ud@example.com");
    await sweepErasures(env.DB, Date.now() + 10 * 60 * 1000);
    expect(JSON.stringify(await rawData())).not.toContain("old.ud@example.com");
  });

  it("with no erasure pending, a sweep costs one read and changes nothing", async () => {
    await apply(events.userUpserted("quiet", T0, { email: "quiet@example.com" }));
    expect(await sweepErasures(env.DB, Date.now())).toEqual({ rewritten: 0, dropped: 0 });
    expect(JSON.stringify(await rawData())).toContain("quiet@example.com");
  });
});
