import type { DirectoryEvent } from "../events";

export type RefreshEvent = Extract<DirectoryEvent, { kind: "user_refresh" }>;

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

/**
 * What reading the upstream decided for a `user_refresh`:
 * - apply: write `event` (a snapshot of the record, or an erasure);
 * - wait: the upstream has not caught up (or an absence needs its second read); look again later;
 * - hold: the evidence is too weak to act on, and only an operator can release it;
 * - fail: the upstream never confirmed what the event said within the budget (replayable).
 */
export type Resolution =
  | { outcome: "apply"; event: DirectoryEvent; note: string | null }
  | { outcome: "wait"; reason: WaitReason; delaySeconds: number; absentSince?: number }
  | { outcome: "hold"; reason: HoldReason }
  | { outcome: "fail"; code: "deactivation_not_confirmed" | "deletion_not_confirmed" };

export type WaitReason = "awaiting_deactivation" | "awaiting_deletion" | "confirming_absence";
export type HoldReason = "absence_unverified" | "upstream_empty" | "upstream_mismatch";

export interface ResolveContext {
  /** The consumer's clock: every Firstup state version is an observation time on it. */
  now: () => number;
  /** When the delivery was first received: the confirmation budget runs from here. */
  receivedAt: number;
  /** Set when an earlier read already saw a verified SCIM 404 for this event. */
  absentSince?: number;
  /** An operator released this event: act on the event's word once the upstream has been read. */
  released: boolean;
  absenceConfirmDelaySeconds: number;
  confirmBudgetMs: number;
  /** Delay before the next look while waiting for the upstream to catch up. */
  waitDelaySeconds: number;
  /** A few other users this directory holds as live for the provider (a sample, for the tenant check). */
  knownLiveUsers?: () => Promise<string[]>;
}


/**
 * An upstream the consumer reads to turn a thin event (`user_refresh`) into a state. The consumer
 * owns batching, coalescing, budgets and outcomes; the provider only says what its upstream shows.
 */
export interface RefreshUpstream {
  resolve(event: RefreshEvent, context: ResolveContext): Promise<Resolution>;
}
