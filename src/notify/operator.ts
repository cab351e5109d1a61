import type { NotifyConfig } from "../config";
import { countDeliveries, pendingHeads, resetToPending, scheduleNow, type DeliveryCounts } from "./deliveries";
import { enableEndpoint, readNotifyFeedState } from "./feed-state";
import { enqueueNotifications } from "./message";
import { relayChanges } from "./relay";
import { signerFor, type SigningScheme } from "./sign";

/** What /admin/notifications reads and does; the routes (src/http/admin-notifications.ts) only shape JSON. */

export interface OperatorDeps {
  d1: D1Database;
  queue: Queue;
  now: () => number;
}

/** Changes put back to pending per POST /admin/notifications/replay. */
export const REPLAY_BATCH = 100;
/** Subjects whose pending head is re-queued when the endpoint is enabled; the watchdog sends the rest. */
const ENABLE_REQUEUE_LIMIT = 1000;

export interface NotificationsOverview {
  configured: boolean;
  /** The URL's origin only: a path or query can carry a token. */
  endpoint: string | null;
  scheme: SigningScheme | null;
  publicKey: string | null;
  disabled: { at: number; note: string | null } | null;
  relayedThrough: number;
  latestSeq: number;
  deliveries: DeliveryCounts;
}

/** Throws InvalidSigningSecretError when a whsk_ key passes the format check but does not import. */
export async function notificationsOverview(d1: D1Database, config: NotifyConfig): Promise<NotificationsOverview> {
  const signer = config.secret ? await signerFor(config.secret) : null;
  const [state, deliveries] = await Promise.all([readNotifyFeedState(d1), countDeliveries(d1)]);
  return {
    configured: config.url !== null,
    endpoint: config.url ? new URL(config.url).origin : null,
    scheme: signer?.scheme ?? null,
    publicKey: signer?.publicKey ?? null,
    disabled: state.disabled,
    relayedThrough: state.relayedThrough,
    latestSeq: state.latestSeq,
    deliveries,
  };
}

/** One change back to pending with a fresh count of tries, and queued. False: no such change. */
export async function replayChange(deps: OperatorDeps, seq: number): Promise<boolean> {
  const seqs = await resetToPending(deps.d1, { seq }, deps.now());
  if (seqs.length === 0) return false;
  await enqueueNotifications(deps.queue, seqs);
  return true;
}

/** The next REPLAY_BATCH changes from `fromSeq`, back to pending and queued; where to continue (null: done). */
export async function replayFrom(deps: OperatorDeps, fromSeq: number): Promise<{ replayed: number; nextFromSeq: number | null }> {
  const seqs = await resetToPending(deps.d1, { fromSeq, limit: REPLAY_BATCH }, deps.now());
  await enqueueNotifications(deps.queue, seqs);
  const last = seqs.at(-1);
  return { replayed: seqs.length, nextFromSeq: seqs.length === REPLAY_BATCH && last !== undefined ? last + 1 : null };
}

/**
 * Clears the 410 switch, sends each subject's oldest pending change now (whatever try it was due
 * for: messages that arrived while the endpoint was off were dropped), and relays what was
 * committed while the endpoint was off (those wait behind the pending ones of their subject).
 */
export async function enableNotifications(deps: OperatorDeps & { webhookUrl: string | null }): Promise<{ wasDisabled: boolean; requeued: number; relayed: number }> {
  const wasDisabled = await enableEndpoint(deps.d1);
  const heads = await pendingHeads(deps.d1, ENABLE_REQUEUE_LIMIT);
  await scheduleNow(deps.d1, heads, deps.now());
  await enqueueNotifications(deps.queue, heads);
  const { relayed } = await relayChanges(deps);
  return { wasDisabled, requeued: heads.length, relayed };
}
