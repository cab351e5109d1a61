import type { DirectoryEvent } from "../events";

/** What an adapter is given: the authenticated body (already JSON-parsed) and delivery metadata. */
export interface ProviderDelivery {
  body: unknown;
  /** The exact bytes received (for adapters that derive an id from the content). */
  rawBody: Uint8Array;
  headers: Headers;
  /** The signed `webhook-id` header, when the delivery used Standard Webhooks. */
  webhookId: string | null;
  /** The signed `webhook-timestamp` in ms, when the delivery used Standard Webhooks. */
  signedAtMs: number | null;
  receivedAtMs: number;
}

export type AdapterResult =
  | { outcome: "event"; event: DirectoryEvent }
  /** Well-formed, authentic, but not something this product acts on. Recorded, then dropped. */
  | { outcome: "ignored"; eventId: string; sourceType: string; reason: string }
  /** Authentic but not an envelope this adapter understands: a 400 for the sender. */
  | { outcome: "invalid"; issues: string[] };

/**
 * How a provider's deliveries prove where they come from. The first one configured is used; with
 * none configured the provider is off (404).
 */
export interface ProviderAuthentication {
  /** Secret list for Standard Webhooks signatures (`whsec_…`, `whpk_…`). */
  standardWebhooksSecret: keyof Env;
  /** The exact `Authorization` header value the provider was configured to send. */
  authorizationHeader?: keyof Env;
}

/**
 * A webhook sender. Adding a provider is one new file implementing this, registered in
 * providers/index.ts.
 */
export interface ProviderAdapter {
  name: string;
  authentication: ProviderAuthentication;
  parse(delivery: ProviderDelivery): AdapterResult;
}
