import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { configFrom } from "../config";
import { providers } from "../providers";
import type { ProviderAdapter } from "../providers/types";
import { toQueueMessages, QUEUE_MESSAGE_VERSION, type QueueMessage } from "../queue-message";
import { markSeen, wasSeen } from "../ingest/seen-deliveries";
import { InvalidSecretError, verificationKeysFor } from "../verify/keys";
import { verifyStandardWebhook } from "../verify/standard-webhooks";
import { log } from "../log";
import { errorResponse } from "./errors";
import type { AppEnv } from "./app-env";

/**
 * POST /webhooks/:provider: verify, normalize, dedupe (fast path), enqueue, answer.
 * Nothing here touches D1: the request path is Web Crypto, one KV read and one Queue send.
 */

const WEBHOOK_ID = /^[\x21-\x7e]{1,256}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function webhookRoutes() {
  const app = new Hono<AppEnv>();

  app.post(
    "/:provider",
    (c, next) => {
      const adapter = providers.get(c.req.param("provider"));
      const secret = adapter ? c.env[adapter.secretVariable] : undefined;
      // A provider with no secret is switched off: indistinguishable from one that does not exist.
      if (!adapter || typeof secret !== "string" || secret.trim() === "") return errorResponse(c, 404, "provider_not_found");
      c.set("adapter", adapter);
      c.set("secret", secret);
      return next();
    },
    // Rejects on Content-Length before reading, or as soon as a streamed body passes the cap.
    (c, next) =>
      bodyLimit({ maxSize: configFrom(c.env).maxBodyBytes, onError: (c) => errorResponse(c, 413, "payload_too_large") })(
        c,
        next,
      ),
    async (c) => {
      const config = configFrom(c.env);
      const adapter: ProviderAdapter = c.get("adapter");
      let keys;
      try {
        keys = await verificationKeysFor(c.get("secret"));
      } catch (error) {
        if (!(error instanceof InvalidSecretError)) throw error;
        log("provider.misconfigured", { provider: adapter.name, error: error.message });
        return errorResponse(c, 503, "provider_misconfigured", {}, { "Retry-After": "60" });
      }

      // The exact bytes received: signatures are over these, never over a re-serialization.
      const body = new Uint8Array(await c.req.arrayBuffer());
      const nowMs = c.get("now")();
      const verification = await verifyStandardWebhook({
        headers: c.req.raw.headers,
        body,
        keys,
        nowSeconds: Math.floor(nowMs / 1000),
        toleranceSeconds: config.toleranceSeconds,
      });
      if (!verification.ok) {
        log("webhook.rejected", { provider: adapter.name, code: verification.code });
        return errorResponse(c, 401, verification.code);
      }
      if (!WEBHOOK_ID.test(verification.webhookId)) return errorResponse(c, 400, "invalid_webhook_id");

      let json: unknown;
      try {
        json = JSON.parse(utf8.decode(body));
      } catch {
        return errorResponse(c, 400, "invalid_json");
      }
      const result = adapter.parse({
        body: json,
        webhookId: verification.webhookId,
        webhookTimestampMs: verification.timestampSeconds * 1000,
      });
      if (result.outcome === "invalid") return errorResponse(c, 400, "invalid_payload", { issues: result.issues });

      const eventId = result.outcome === "event" ? result.event.eventId : result.eventId;
      if (await wasSeen(c.env.SEEN_EVENTS, adapter.name, eventId)) {
        log("event.duplicate", { provider: adapter.name, eventId, where: "kv" });
        return c.json({ status: "duplicate", provider: adapter.name, eventId }, 200);
      }

      const messages: QueueMessage[] =
        result.outcome === "event"
          ? toQueueMessages(result.event, nowMs)
          : [{ v: QUEUE_MESSAGE_VERSION, kind: "ignored", receivedAt: nowMs, provider: adapter.name, eventId, sourceType: result.sourceType, reason: result.reason }];
      try {
        await enqueue(c.env.EVENTS_QUEUE, messages);
      } catch (error) {
        // Not acknowledged, so the provider retries; parts already queued dedupe in the consumer.
        log("queue.send_failed", { provider: adapter.name, eventId, error: String(error) });
        return errorResponse(c, 503, "queue_unavailable", {}, { "Retry-After": "30" });
      }
      c.executionCtx.waitUntil(markSeen(c.env.SEEN_EVENTS, adapter.name, eventId, config.dedupeTtlSeconds));

      if (result.outcome === "ignored") {
        log("event.accepted", { provider: adapter.name, eventId, ignored: result.reason });
        return c.json({ status: "ignored", provider: adapter.name, eventId, reason: result.reason }, 202);
      }
      log("event.accepted", { provider: adapter.name, eventId, kind: result.event.kind, parts: messages.length });
      return c.json({ status: "accepted", provider: adapter.name, eventId }, 202);
    },
  );

  app.all("/:provider", (c) => errorResponse(c, 405, "method_not_allowed", {}, { Allow: "POST" }));
  return app;
}

async function enqueue(queue: Queue, messages: QueueMessage[]): Promise<void> {
  const [only] = messages;
  if (messages.length === 1 && only) {
    await queue.send(only, { contentType: "json" });
    return;
  }
  // sendBatch takes at most 100 messages and 256 KB; parts are up to 100 KB each.
  for (let i = 0; i < messages.length; i += 2) {
    await queue.sendBatch(messages.slice(i, i + 2).map((body) => ({ body, contentType: "json" as const })));
  }
}
