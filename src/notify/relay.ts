import { ConfigError, notifyConfig } from "../config";
import { log } from "../log";
import { relayWindow, scheduleStalledHeads } from "./deliveries";
import { readNotifyFeedState } from "./feed-state";
import { enqueueNotifications } from "./message";

/**
 * The relay turns committed changes into deliveries: a `change_deliveries` row and a queue
 * message per change, in seq order. It runs after every consumer batch (the batch's changes are
 * committed by then) and from the watchdog cron, so it never sits on the write path: a failure
 * here delays notifications, never the directory. Where it stopped is `relayed_through`, so
 * nothing committed is skipped, whichever invocation relays it.
 *
 * The first relay after APP_WEBHOOK_URL is set starts at the oldest change still in the feed (the
 * retention window), not at "now": nothing the directory recorded is left out.
 */

export interface RelayDeps {
  d1: D1Database;
  queue: Queue;
  now: () => number;
  /** APP_WEBHOOK_URL; null: notifications are off and nothing is relayed. */
  webhookUrl: string | null;
}

/** Windows of RELAY_WINDOW changes per call; a backlog larger than this continues on the next call. */
const MAX_WINDOWS_PER_CALL = 5;
/** A pending delivery whose next try was due this long ago (`next_attempt_at`) has lost its message. */
export const STALLED_AFTER_MS = 10 * 60 * 1000;
/** Re-sent per watchdog pass; the rest on the next pass. */
const MAX_RESENDS_PER_PASS = 200;

/** Relays what was committed since the last relay. Cheap when there is nothing new: one read. */
export async function relayChanges(deps: RelayDeps): Promise<{ relayed: number; relayedThrough: number }> {
  if (!deps.webhookUrl) return { relayed: 0, relayedThrough: 0 };
  const state = await readNotifyFeedState(deps.d1);
  // While the app's endpoint is off, changes stay in the feed; enabling it relays them in order.
  if (state.disabled) return { relayed: 0, relayedThrough: state.relayedThrough };
  let through = state.relayedThrough;
  let relayed = 0;
  for (let window = 0; window < MAX_WINDOWS_PER_CALL && through < state.latestSeq; window++) {
    const result = await relayWindow(deps.d1, through, deps.now());
    if (result.relayedThrough <= through) break;
    through = result.relayedThrough;
    // Committed before sending: if this send fails, the rows are pending without a message and
    // the watchdog re-sends them (resendStalledDeliveries).
    if (result.inserted.length) await enqueueNotifications(deps.queue, result.inserted);
    relayed += result.inserted.length;
  }
  if (relayed) log("notify.relayed", { relayed, relayedThrough: through });
  return { relayed, relayedThrough: through };
}

/**
 * Watchdog: re-sends the message of each delivery that is next in its subject's order, not leased,
 * and whose next try was due (`next_attempt_at`: the relay's send, the backoff or the app's
 * Retry-After, a wait) more than STALLED_AFTER_MS ago: its message was lost, or the relay's send
 * failed. A delivery the app asked to wait an hour is not re-sent within that hour. Deliveries
 * waiting behind an older change are left alone: they go when it settles. Each re-sent delivery
 * is scheduled for now before the send, so the next pass leaves it for another STALLED_AFTER_MS
 * (and, if this send fails, re-sends it then).
 */
export async function resendStalledDeliveries(deps: RelayDeps): Promise<number[]> {
  if (!deps.webhookUrl) return [];
  const state = await readNotifyFeedState(deps.d1);
  if (state.disabled) return [];
  const now = deps.now();
  const due = await scheduleStalledHeads(deps.d1, now, now - STALLED_AFTER_MS, MAX_RESENDS_PER_PASS);
  if (due.length === 0) return [];
  await enqueueNotifications(deps.queue, due);
  log("notify.resent_stalled", { count: due.length, first: due[0] });
  return due;
}

/**
 * The relay (and, from the watchdog, the re-send) with bindings from `env`. Never throws: the
 * caller's own work is committed, and whatever this leaves undone the next call or the watchdog
 * picks up. Invalid notification settings are logged by name, never value (/healthz names them).
 */
export async function relayFromEnv(env: Env, now: () => number, options: { resendStalled?: boolean } = {}): Promise<void> {
  try {
    const deps: RelayDeps = { d1: env.DB, queue: env.NOTIFY_QUEUE, now, webhookUrl: notifyConfig(env).url };
    await relayChanges(deps);
    if (options.resendStalled) await resendStalledDeliveries(deps);
  } catch (error) {
    if (error instanceof ConfigError) log("notify.misconfigured", { error: error.message });
    else log("notify.relay_failed", { error: String(error) });
  }
}
