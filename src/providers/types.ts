import type { DirectoryEvent } from "../events";

/** What an adapter is given: the verified body (already JSON-parsed) and delivery metadata. */
export interface ProviderDelivery {
  body: unknown;
  /** The signed `webhook-id` header, the fallback idempotency key. */
  webhookId: string;
  /** The signed `webhook-timestamp`, in ms; the fallback event time. */
  webhookTimestampMs: number;
}

export type AdapterResult =
  | { outcome: "event"; event: DirectoryEvent }
  /** Well-formed, authentic, but not something this product acts on. Recorded, then dropped. */
  | { outcome: "ignored"; eventId: string; sourceType: string; reason: string }
  /** Authentic but not an envelope this adapter understands: a 400 for the sender. */
  | { outcome: "invalid"; issues: string[] };

/**
 * A webhook sender. Adding a provider is one new file implementing this, registered in
 * providers/index.ts.
 */
export interface ProviderAdapter {
  name: string;
  /** The environment variable holding this provider's Standard Webhooks secret list. */
  secretVariable: keyof Env;
  parse(delivery: ProviderDelivery): AdapterResult;
}
