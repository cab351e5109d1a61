import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";

/**
 * A configuration mistake stops only the part that reads the setting: a read-side ROLE_MAPPING
 * typo cannot stop the consumer, and the dead-letter consumer reads no configuration at all, so a
 * dead letter is recorded even when every setting is broken.
 */
describe("configuration failures stay contained", () => {
  it("an invalid ROLE_MAPPING (read side) does not stop the consumer", async () => {
    const event = events.userUpserted("cfg_u1", 1_000);
    const { result } = await deliverBatch([eventMessage(event)], { env: { ...env, ROLE_MAPPING: "{not json" } });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await env.DB.prepare("SELECT active FROM users WHERE external_id = 'cfg_u1'").first()).toEqual({ active: 1 });
  });

  it("the dead-letter consumer records dead letters with every consumer setting invalid", async () => {
    const broken = { ...env, ROLE_MAPPING: "{not json", RETRY_BASE_DELAY_SECONDS: "soon", DESTRUCTIVE_GUARD_MAX_SHARE: "lots", RECONCILE_PAGE_SIZE: "-1" };
    const event = events.userUpserted("cfg_dead", 1_000);
    const { result } = await deliverBatch([eventMessage(event)], { queue: "directory-events-dlq", env: broken });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await env.DB.prepare("SELECT status FROM event_log WHERE event_id = ?").bind(event.eventId).first()).toEqual({ status: "dead_lettered" });
  });

  it("an invalid consumer setting makes the main consumer retry (never drop) its batch", async () => {
    const event = events.userUpserted("cfg_u2", 1_000);
    await expect(deliverBatch([eventMessage(event)], { env: { ...env, DESTRUCTIVE_GUARD_MAX_SHARE: "lots" } })).rejects.toThrow(/DESTRUCTIVE_GUARD_MAX_SHARE/);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM users WHERE external_id = 'cfg_u2'").first()).toEqual({ n: 0 });
  });
});
