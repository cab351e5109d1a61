import { env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../src/verify/base64";
import { hmacSignature, TEST_SECRET } from "../support/sign";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { callApp, recordingQueue } from "../support/worker";

/**
 * Property-based attacks on POST /webhooks/:provider. Invariants, for every generated request:
 * - no 5xx (the only documented one, 503 when the Queue refuses, cannot happen here);
 * - every rejection is JSON with a stable `error` code;
 * - nothing is enqueued unless the request carries a genuine signature, by the test secret, over
 *   exactly its id, timestamp and body, within the tolerance window (checked by an independent
 *   oracle that re-computes the HMAC);
 * - an authentic body is never dropped: it is queued, quarantined (202) or recorded as rejected (400).
 */

const URL = "https://sync.example.com/webhooks/scalekit";
const ERROR_CODES = new Set([
  "missing_signature_headers", "invalid_timestamp", "timestamp_outside_tolerance", "invalid_signature", "invalid_webhook_id",
  "invalid_json", "payload_too_large", "method_not_allowed", "provider_not_found", "not_found",
]);
const RUNS = 150;

/** Would an honest verifier accept these exact headers and bytes? */
async function genuinelySigned(headers: Headers, body: Uint8Array, nowSeconds: number): Promise<boolean> {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures || !/^[1-9][0-9]*$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const expected = await hmacSignature(TEST_SECRET, id, timestamp, body);
  return signatures.split(" ").includes(expected);
}

async function send(headers: Headers, body: Uint8Array, method = "POST") {
  const { queue, sent } = recordingQueue();
  const response = await callApp(new Request(URL, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : body }), { EVENTS_QUEUE: queue });
  const text = await response.text();
  return { status: response.status, text, sent };
}

async function loggedStatus(eventId: string) {
  const row = await env.DB.prepare("SELECT status FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(eventId).first<{ status: string }>();
  return row?.status ?? null;
}

function assertWellFormedRejection(status: number, text: string) {
  expect(status).toBeLessThan(500);
  if (status >= 400) {
    const body = JSON.parse(text) as { error?: string };
    expect(ERROR_CODES.has(body.error ?? "")).toBe(true);
  }
}

async function validDelivery(bodyText?: string) {
  const body = new TextEncoder().encode(bodyText ?? JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: `prop_${crypto.randomUUID()}` }))));
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  return { body, id, timestamp, signature: await hmacSignature(TEST_SECRET, id, timestamp, body) };
}

// Non-ASCII is covered by the fixed values below ("é", "😀"); random Unicode would only add
// workerd's stderr note about UTF-8 header values to every run.
const headerText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", " ", "v1,", "v1a,", "v2,AAAA", "v1,!!!", "v1,AAAA==", ",", "v1,,", "0", "-1", "1e9", "0123", "12abc", "9".repeat(30), "msg.with.dots", "é", "😀"),
);

describe("hostile input at ingress (property-based)", () => {
  it("mutated signature headers never get a forged event in", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          id: fc.option(headerText),
          timestamp: fc.option(fc.oneof(headerText, fc.integer({ min: -1e10, max: 1e11 }).map(String))),
          signature: fc.option(fc.oneof(headerText, fc.array(headerText, { maxLength: 20 }).map((parts) => parts.join(" ")))),
          keepGenuineSignature: fc.boolean(),
        }),
        async (mutation) => {
          const delivery = await validDelivery();
          const headers = new Headers({ "content-type": "application/json" });
          const set = (name: string, value: string | null) => {
            try {
              if (value !== null) headers.set(name, value);
            } catch {
              // Fetch refuses some header values outright (control characters): nothing to send then.
            }
          };
          set("webhook-id", mutation.id ?? delivery.id);
          set("webhook-timestamp", mutation.timestamp ?? String(delivery.timestamp));
          const signature = mutation.signature ?? delivery.signature;
          set("webhook-signature", mutation.keepGenuineSignature ? `${signature} ${delivery.signature}` : signature);
          const { status, text, sent } = await send(headers, delivery.body);
          assertWellFormedRejection(status, text);
          if (sent.length > 0) expect(await genuinelySigned(headers, delivery.body, Math.floor(Date.now() / 1000))).toBe(true);
          if (status === 202) expect(sent.length).toBe(1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("a body changed in any way after signing is rejected", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
          fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
          fc.record({ kind: fc.constant("append" as const), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
        ),
        async (mutation) => {
          const delivery = await validDelivery();
          let body = delivery.body;
          if (mutation.kind === "flip") {
            body = body.slice();
            const index = mutation.at % body.length;
            body[index] = body[index]! ^ (1 << mutation.bit);
          } else if (mutation.kind === "truncate") body = body.slice(0, mutation.at % body.length);
          else body = new Uint8Array([...body, ...mutation.extra]);
          const headers = new Headers({ "webhook-id": delivery.id, "webhook-timestamp": String(delivery.timestamp), "webhook-signature": delivery.signature });
          const { status, text, sent } = await send(headers, body);
          expect(status).toBe(401);
          assertWellFormedRejection(status, text);
          expect(sent).toEqual([]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("authentic but hostile bodies (random JSON, bombs, duplicate keys, non-JSON) never cause a 5xx", async () => {
    const hostile = fc.oneof(
      fc.json({ maxDepth: 6 }),
      fc.string({ unit: "binary", maxLength: 500 }),
      fc.integer({ min: 1, max: 20_000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
      fc.integer({ min: 1, max: 20_000 }).map((depth) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth)),
      fc.integer({ min: 1, max: 50_000 }).map((n) => JSON.stringify({ id: "evt", type: "organization.directory.group_membership_updated", data: { group_id: "g", added_members: Array.from({ length: n }, (_, i) => `u${i}`) } })),
      fc.constant('{"id":"evt_dup","type":"organization.directory.user_created","type":"organization.directory.user_deleted","data":{"id":"u","id":"v"}}'),
      fc.record({ type: fc.string(), data: fc.anything() }).map((value) => JSON.stringify(value)),
      fc.constant("\uFEFF{}"),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (bodyText) => {
        const delivery = await validDelivery(bodyText);
        const headers = new Headers({ "webhook-id": delivery.id, "webhook-timestamp": String(delivery.timestamp), "webhook-signature": delivery.signature });
        const { status, text, sent } = await send(headers, delivery.body);
        assertWellFormedRejection(status, text);
        expect([200, 202, 400, 413]).toContain(status);
        const answer = JSON.parse(text) as { status?: string; error?: string; eventId?: string };
        // Authentic, so never dropped: queued, quarantined (JSON we cannot parse) or recorded as rejected (not JSON).
        if (status === 400) {
          expect(answer.error).toBe("invalid_json");
          expect(sent).toEqual([]);
          expect(await loggedStatus(delivery.id)).toBe("rejected");
        }
        if (answer.status === "quarantined") {
          expect(sent).toEqual([]);
          expect(await loggedStatus(answer.eventId!)).toBe("quarantined");
        }
        if (answer.status === "accepted" || answer.status === "ignored") expect(sent.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it("wrong methods, content types and oversized bodies get clean 4xx answers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "PUT", "PATCH", "DELETE", "OPTIONS"),
        fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", ""),
        async (method, contentType) => {
          const delivery = await validDelivery();
          const headers = new Headers({ "webhook-id": delivery.id, "webhook-timestamp": String(delivery.timestamp), "webhook-signature": delivery.signature });
          if (contentType) headers.set("content-type", contentType);
          const wrongMethod = await send(headers, delivery.body, method);
          expect(wrongMethod.status).toBe(405);
          // The content type is not what authenticates a delivery: a genuine one is accepted either way.
          const rightMethod = await send(headers, delivery.body);
          expect(rightMethod.status).toBe(202);
        },
      ),
      { numRuns: 25 },
    );
    const delivery = await validDelivery("x".repeat(1024 * 1024 + 1));
    const headers = new Headers({ "webhook-id": delivery.id, "webhook-timestamp": String(delivery.timestamp), "webhook-signature": delivery.signature });
    const oversized = await send(headers, delivery.body);
    expect(oversized.status).toBe(413);
    expect(oversized.sent).toEqual([]);
  });

  it("the oracle agrees with the reference vector (so the properties above can fail)", async () => {
    const body = new TextEncoder().encode('{"test": 2432232314}');
    const headers = new Headers({ "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330", "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" });
    expect(decodeBase64(TEST_SECRET.slice(6))).not.toBeNull();
    expect(await genuinelySigned(headers, body, 1614265330)).toBe(true);
    expect(await genuinelySigned(headers, body, 1614265330 + 301)).toBe(false);
  });
});
