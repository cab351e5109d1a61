import { describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../src/events";
import { MAX_MESSAGE_BYTES, QUEUE_MESSAGE_VERSION, partEventIds, queueMessage, toQueueMessages, type EventMessage } from "../src/queue-message";
import { events } from "./support/directory";

/** The Queue's hard limit on one message. */
const QUEUE_LIMIT_BYTES = 128 * 1024;
const VALID_ID = /^[\x21-\x7e]{1,256}$/;
const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** `count` distinct ids of exactly 40 non-ASCII characters ("用户…", 3 UTF-8 bytes each) plus a counter. */
const cjkIds = (count: number, prefix = "") => Array.from({ length: count }, (_, i) => `${(prefix + "用户".repeat(17)).slice(0, 34)}${String(i).padStart(6, "0")}`);

function split(event: DirectoryEvent): EventMessage[] {
  const result = toQueueMessages(event, 1_700_000_000_000);
  if (!result.ok) throw new Error(`expected messages, got ${result.code}`);
  return result.messages;
}

function expectValidParts(event: Extract<DirectoryEvent, { kind: "group_members_changed" }>, messages: EventMessage[]) {
  const ids = new Set<string>();
  const added: string[] = [];
  const removed: string[] = [];
  for (const message of messages) {
    expect(jsonBytes(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(jsonBytes(message)).toBeLessThanOrEqual(QUEUE_LIMIT_BYTES);
    const decoded = queueMessage.parse(JSON.parse(JSON.stringify(message)));
    if (decoded.kind !== "event" || decoded.event.kind !== "group_members_changed") throw new Error("not a membership part");
    expect(decoded.event.eventId).toMatch(VALID_ID);
    ids.add(decoded.event.eventId);
    added.push(...decoded.event.added);
    removed.push(...decoded.event.removed);
    expect(decoded.event).toMatchObject({ groupExternalId: event.groupExternalId, occurredAt: event.occurredAt, provider: event.provider });
  }
  expect(ids.size).toBe(messages.length);
  // Every change lands in exactly one part.
  expect(added).toEqual(event.added);
  expect(removed).toEqual(event.removed);
}

describe("queue message sizing (UTF-8 bytes)", () => {
  it("splits 3,000 members with 40-character non-ASCII ids into parts each under the limit in bytes", () => {
    const event = events.members("group_cjk", 1000, cjkIds(2000, "a"), cjkIds(1000, "r"), "evt_cjk_3000");
    if (event.kind !== "group_members_changed") throw new Error("unreachable");
    expect(event.added.every((id) => id.length === 40)).toBe(true);
    const messages = split(event);
    expect(messages.length).toBeGreaterThan(1);
    expectValidParts(event, messages);
  });

  it("splits an event short in UTF-16 units but over 128 KB in UTF-8 (string length would send it whole)", () => {
    const event = events.members("group_cjk", 1000, cjkIds(2000), [], "evt_cjk_2000");
    if (event.kind !== "group_members_changed") throw new Error("unreachable");
    const whole = { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt: 1_700_000_000_000, event };
    expect(JSON.stringify(whole).length).toBeLessThan(MAX_MESSAGE_BYTES);
    expect(jsonBytes(whole)).toBeGreaterThan(QUEUE_LIMIT_BYTES);
    const messages = split(event);
    expect(messages.length).toBeGreaterThan(1);
    expectValidParts(event, messages);
  });

  it("budgets ids by their JSON encoding: escaped characters cost their escapes", () => {
    // Each control character is one UTF-16 unit but six bytes as JSON (\u0001).
    const ids = Array.from({ length: 2000 }, (_, i) => `${"\u0001".repeat(40)}${i}`);
    const event = events.members("group_escaped", 1000, ids, [], "evt_escaped");
    if (event.kind !== "group_members_changed") throw new Error("unreachable");
    expectValidParts(event, split(event));
  });

  it("a 256-character event id splits into valid, distinct, deterministic part ids", () => {
    const longId = "e".repeat(256);
    const event = events.members("group_long", 1000, cjkIds(2000), [], longId);
    if (event.kind !== "group_members_changed") throw new Error("unreachable");
    const first = split(event);
    expectValidParts(event, first);
    // A redelivery of the same event maps to the same part ids, so it dedupes part by part.
    expect(split(event).map((m) => m.event.eventId)).toEqual(first.map((m) => m.event.eventId));
    expect(first[0]!.event.eventId.startsWith("e".repeat(100))).toBe(true);
  });

  it("an event id with non-printable characters still gives printable part ids, distinct per event", () => {
    const a = partEventIds("evt with spaces/ünïcode", 3);
    const b = partEventIds("evt with spaces/ünïcodE", 3);
    for (const id of [...a, ...b]) expect(id).toMatch(VALID_ID);
    expect(new Set([...a, ...b]).size).toBe(6);
  });

  it("keeps the readable `<id>#<n>` form when it fits", () => {
    expect(partEventIds("evt_1", 2)).toEqual(["evt_1#1", "evt_1#2"]);
    // 253 + "#10" is 256: fits. 254 + "#10" is 257: every part switches to the hashed form.
    expect(partEventIds("x".repeat(253), 10).at(-1)).toBe(`${"x".repeat(253)}#10`);
    const hashed = partEventIds("x".repeat(254), 10);
    expect(hashed.every((id) => VALID_ID.test(id) && id.includes("~"))).toBe(true);
  });

  it("sends a small event whole", () => {
    const event = events.userUpserted("u_small", 1000);
    expect(split(event)).toEqual([{ v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt: 1_700_000_000_000, event }]);
  });

  it("a non-membership event over the limit is message_too_large, not an endless 503", () => {
    const attributes = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`attr_${i}`, "é".repeat(1024)]));
    const event = events.userUpserted("u_big", 1000);
    if (event.kind !== "user_upserted") throw new Error("unreachable");
    const big: DirectoryEvent = { ...event, user: { ...event.user, attributes } };
    const result = toQueueMessages(big, 1);
    expect(result).toMatchObject({ ok: false, code: "message_too_large" });
    expect(result.ok ? 0 : result.bytes).toBeGreaterThan(MAX_MESSAGE_BYTES);
  });
});

describe("message versions", () => {
  it("decodes version-1 messages still in flight or stored for replay, and produces version 2", () => {
    const event = { provider: "scalekit", eventId: "v1", occurredAt: 1, sourceType: "t", kind: "group_deleted" as const, group: { externalId: "g", name: null, organizationId: null, directoryId: null } };
    expect(queueMessage.safeParse({ v: 1, kind: "event", receivedAt: 1, event }).success).toBe(true);
    expect(toQueueMessages(event, 1)).toMatchObject({ ok: true, messages: [{ v: 2 }] });
    expect(queueMessage.safeParse({ v: 3, kind: "event", receivedAt: 1, event }).success).toBe(false);
  });
});
