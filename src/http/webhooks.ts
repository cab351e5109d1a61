import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ingestConfig } from "../config";
import { normalizeDelivery, type AuthenticatedDelivery, type NormalizedDelivery } from "../ingest/normalize";
import { seenDeliveries } from "../ingest/fast-path";
import { describeIssues, recordUnparsed, storeDelivery, unparsedEventId, unparsedSourceType, unparsedSubject } from "../ledger/quarantine";
import { providers as registeredProviders } from "../providers";
import type { ProviderAdapter } from "../providers/types";
import { sendQueueMessages } from "../queue-message";
import { log } from "../log";
import { authenticateDelivery, configuredAuthentication, type ConfiguredAuthentication } from "./authenticate";
import { errorResponse } from "./errors";
import type { AppEnv } from "./app-env";

/**
 * POST /webhooks/:provider: authenticate, normalize, dedupe (fast path), enqueue, answer.
 *
 * An accepted event costs Web Crypto, a fast-path lookup (by default the location's Cache API,
 * which is not billed) and one Queue send: nothing here touches D1 or the upstream. The exception
 * is an authentic delivery that does not become a queue message: it is written to D1 (event_log)
 * on the request path, because that write is the only copy of it. A
 * quarantined delivery is answered 2xx only once the row is committed (else 503, and the sender
 * retries); a rejected one (400) is recorded best effort, since the sender keeps its copy.
 * Unauthenticated requests are never stored.
 */

const WEBHOOK_ID = /^[\x21-\x7e]{1,256}$/;

export interface WebhookRouteOptions {
  /** The adapters by path segment; tests inject other versions. Defaults to the registry. */
  providers?: ReadonlyMap<string, ProviderAdapter>;
}

export function webhookRoutes(options: WebhookRouteOptions = {}) {
  const providers = options.providers ?? registeredProviders;
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
      bodyLimit({ maxSize: bodyLimitFor(c.get("authentication"), ingestConfig(c.env).maxBodyBytes), onError: (c) => errorResponse(c, 413, "payload_too_large") })(c, next),
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
      const delivery: AuthenticatedDelivery = {
        rawBody: body,
        headers: c.req.raw.headers,
        webhookId: authenticated.webhookId,
        signedAtMs: authenticated.signedAtMs,
        receivedAtMs: nowMs,
      };
      if (delivery.webhookId !== null && !WEBHOOK_ID.test(delivery.webhookId)) {
        await recordRejected(c, adapter.name, { ...delivery, webhookId: null }, "invalid_webhook_id");
        return errorResponse(c, 400, "invalid_webhook_id");
      }

      const normalized = normalizeDelivery(adapter, delivery);
      if (normalized.outcome === "not_json") {
        await recordRejected(c, adapter.name, delivery, "invalid_json");
        return errorResponse(c, 400, "invalid_json");
      }
      if (normalized.outcome === "unprocessable") return quarantine(c, adapter.name, delivery, normalized);

      const { eventId, result, messages } = normalized;
      const seen = seenDeliveries(config, c.env, c.req.url);
      if (seen && (await seen.wasSeen(adapter.name, eventId))) {
        log("event.duplicate", { provider: adapter.name, eventId, where: seen.where });
        return c.json({ status: "duplicate", provider: adapter.name, eventId }, 200);
      }
      try {
        await sendQueueMessages(c.env.EVENTS_QUEUE, messages);
      } catch (error) {
        // Not acknowledged, so the provider retries; parts already queued dedupe in the consumer.
        log("queue.send_failed", { provider: adapter.name, eventId, error: String(error) });
        return errorResponse(c, 503, "queue_unavailable", {}, { "Retry-After": "30" });
      }
      if (seen) c.executionCtx.waitUntil(seen.markSeen(adapter.name, eventId));

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

/**
 * Authentic JSON that we could not turn into queue messages (our parser's failure, or a message too
 * large to queue). 202 once stored, so the sender stops retrying; 503 if it could not be stored, so
 * the sender retries and nothing is lost. A key already applied, ignored, failed or held is a
 * duplicate (200) and its row is left alone.
 */
/**
 * A header value authenticates the sender, not the body, so whoever has seen it can send bodies
 * that get stored (quarantine). Header-mode deliveries are therefore capped far below the general
 * limit: a Firstup user event is a few hundred bytes.
 */
export const HEADER_MODE_MAX_BODY_BYTES = 16 * 1024;

function bodyLimitFor(authentication: ConfiguredAuthentication, maxBodyBytes: number): number {
  return authentication.kind === "authorization-header" ? Math.min(maxBodyBytes, HEADER_MODE_MAX_BODY_BYTES) : maxBodyBytes;
}

async function quarantine(
  c: Context<AppEnv>,
  provider: string,
  delivery: AuthenticatedDelivery,
  unprocessable: Extract<NormalizedDelivery, { outcome: "unprocessable" }>,
) {
  const eventId = unprocessable.eventId ?? unparsedEventId(unprocessable.body, delivery);
  let recorded: boolean;
  try {
    recorded = await recordUnparsed(
      c.env.DB,
      {
        provider,
        eventId,
        subject: unparsedSubject(unprocessable.body),
        sourceType: unprocessable.sourceType ?? unparsedSourceType(unprocessable.body),
        status: "quarantined",
        error: describeIssues(unprocessable.issues),
        delivery: storeDelivery(delivery),
        receivedAt: delivery.receivedAtMs,
      },
      delivery.receivedAtMs,
    );
  } catch (error) {
    log("quarantine.write_failed", { provider, eventId, error: String(error) });
    return errorResponse(c, 503, "quarantine_unavailable", {}, { "Retry-After": "60" });
  }
  if (!recorded) {
    log("event.duplicate", { provider, eventId, where: "event_log" });
    return c.json({ status: "duplicate", provider, eventId }, 200);
  }
  log("event.quarantined", { provider, eventId, issues: unprocessable.issues });
  return c.json({ status: "quarantined", provider, eventId, issues: unprocessable.issues }, 202);
}

/** Best effort: the sender got a 400 and keeps its copy; a failed write is logged, not surfaced. */
async function recordRejected(c: Context<AppEnv>, provider: string, delivery: AuthenticatedDelivery, code: "invalid_json" | "invalid_webhook_id") {
  const eventId = unparsedEventId(undefined, delivery);
  try {
    await recordUnparsed(
      c.env.DB,
      { provider, eventId, subject: null, sourceType: "unknown", status: "rejected", error: code, delivery: storeDelivery(delivery), receivedAt: delivery.receivedAtMs },
      delivery.receivedAtMs,
    );
    log("event.rejected", { provider, eventId, code });
  } catch (error) {
    log("rejected.write_failed", { provider, eventId, code, error: String(error) });
  }
}
