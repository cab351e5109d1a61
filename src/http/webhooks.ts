import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ingestConfig } from "../config";
import { providers } from "../providers";
import { toQueueMessages, QUEUE_MESSAGE_VERSION, type QueueMessage } from "../queue-message";
import { markSeen, wasSeen } from "../ingest/seen-deliveries";
import { log } from "../log";
import { authenticateDelivery, configuredAuthentication } from "./authenticate";
import { errorResponse } from "./errors";
import type { AppEnv } from "./app-env";

/**
 * POST /webhooks/:provider: authenticate, normalize, dedupe (fast path), enqueue, answer.
 * Nothing here touches D1 or the upstream: the request path is Web Crypto, one KV read and one
 * Queue send.
 */

const WEBHOOK_ID = /^[\x21-\x7e]{1,256}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function webhookRoutes() {
  const app = new Hono<AppEnv>();

  app.post(
    "/:provider",
    (c, next) => {
      const adapter = providers.get(c.req.param("provider"));
      const authentication = adapter ? configuredAuthentication(adapter, c.env) : null;
      // A provider with nothing configured is switched off: indistinguishable from one that does not exist.
      if (!adapter || !authentication) return errorResponse(c, 404, "provider_not_found");
      c.set("adapter", adapter);
      c.set("authentication", authentication);
      return next();
    },
    // Rejects on Content-Length before reading, or as soon as a streamed body passes the cap.
    (c, next) =>
      bodyLimit({ maxSize: ingestConfig(c.env).maxBodyBytes, onError: (c) => errorResponse(c, 413, "payload_too_large") })(c, next),
    async (c) => {
      const config = ingestConfig(c.env);
      const adapter = c.get("adapter");
      // The exact bytes received: signatures are over these, never over a re-serialization.
      const body = new Uint8Array(await c.req.arrayBuffer());
      const nowMs = c.get("now")();
      const authenticated = await authenticateDelivery(c.get("authentication"), {
        headers: c.req.raw.headers,
        body,
        nowMs,
        toleranceSeconds: config.toleranceSeconds,
      });
      if (!authenticated.ok) {
        log("webhook.rejected", { provider: adapter.name, code: authenticated.code });
        const retryLater: Record<string, string> = authenticated.status === 503 ? { "Retry-After": "60" } : {};
        return errorResponse(c, authenticated.status, authenticated.code, {}, retryLater);
      }
      if (authenticated.webhookId !== null && !WEBHOOK_ID.test(authenticated.webhookId)) return errorResponse(c, 400, "invalid_webhook_id");

      let json: unknown;
      try {
        json = JSON.parse(utf8.decode(body));
      } catch {
        return errorResponse(c, 400, "invalid_json");
      }
      const result = adapter.parse({ body: json, rawBody: body, headers: c.req.raw.headers, ...authenticated, receivedAtMs: nowMs });
      if (result.outcome === "invalid") return errorResponse(c, 400, "invalid_payload", { issues: result.issues });

      const eventId = result.outcome === "event" ? result.event.eventId : result.eventId;
      if (config.dedupeKv && (await wasSeen(c.env.SEEN_EVENTS, adapter.name, eventId))) {
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
      if (config.dedupeKv) c.executionCtx.waitUntil(markSeen(c.env.SEEN_EVENTS, adapter.name, eventId, config.dedupeTtlSeconds));

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
