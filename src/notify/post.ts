import { parseRetryAfter } from "../providers/shared/retry-after";
import type { ChangeRecord } from "./deliveries";
import type { WebhookSigner } from "./sign";

/**
 * One HTTP try of one change: the Standard Webhooks request and what its answer means.
 *
 * `webhook-id` is `chg_<seq>`, the same on every try and replay, so the app's dedupe by id works;
 * `webhook-timestamp` is the time of this try and the signature is made afresh for it.
 */

export type AttemptResult =
  | { kind: "delivered"; status: number }
  /** 410: the app wants no more notifications. */
  | { kind: "gone"; status: number }
  /** Not retried: another 4xx, or a redirect (not followed: the signed body goes where configured, or nowhere). */
  | { kind: "rejected"; status: number; error: "rejected" | "redirected" }
  | { kind: "retryable"; status: number | null; error: "http_error" | "timeout" | "network_error"; retryAfterMs: number | null };

export const USER_AGENT = "directory-sync";

export const webhookIdOf = (seq: number) => `chg_${seq}`;

/** The JSON body the app receives (README, "Push: signed webhooks to your app"). */
export function notificationBody(change: ChangeRecord): string {
  let data: unknown = null;
  try {
    data = JSON.parse(change.data);
  } catch {
    // Written by SQLite's json_object, so always JSON; null rather than a half-parsed guess.
  }
  return JSON.stringify({
    type: change.type,
    seq: change.seq,
    occurred_at: new Date(change.occurredAt).toISOString(),
    recorded_at: new Date(change.recordedAt).toISOString(),
    provider: change.provider,
    organization_id: change.organizationId,
    directory_id: change.directoryId,
    subject: change.subject,
    cause: change.cause,
    source: change.source,
    data,
  });
}

export interface PostInput {
  url: string;
  signer: WebhookSigner;
  change: ChangeRecord;
  fetch: typeof fetch;
  timeoutMs: number;
  now: number;
}

export async function postNotification(input: PostInput): Promise<AttemptResult> {
  const body = notificationBody(input.change);
  const id = webhookIdOf(input.change.seq);
  const timestamp = Math.floor(input.now / 1000);
  let response: Response;
  try {
    response = await input.fetch(input.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await input.signer.sign(id, timestamp, body),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(input.timeoutMs),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return { kind: "retryable", status: null, error: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network_error", retryAfterMs: null };
  }
  // The app's answer body is never read or stored: only its status matters.
  await response.body?.cancel().catch(() => undefined);
  return classify(response.status, response.headers.get("retry-after"), input.now);
}

function classify(status: number, retryAfter: string | null, now: number): AttemptResult {
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  if (status === 410) return { kind: "gone", status };
  if (status >= 300 && status < 400) return { kind: "rejected", status, error: "redirected" };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: "rejected", status, error: "rejected" };
  return { kind: "retryable", status, error: "http_error", retryAfterMs: parseRetryAfter(retryAfter, now) };
}
