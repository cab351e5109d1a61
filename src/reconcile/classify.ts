import type { DirectoryUser } from "../events";
import { userRow } from "../directory/writes";
import { eventVersion } from "../directory/version";
import type { PendingRemoval } from "./runs";

/** What the directory holds for a user, as far as reconciliation needs to know. */
export interface StoredUser {
  external_id: string;
  fingerprint: string | null;
  active: number;
  forgotten_at: number | null;
  last_event_version: string;
}

export interface UpstreamRecord {
  user: DirectoryUser;
  /**
   * When this run read the record (ms, the consumer's clock). It is the record's version: the same
   * clock the webhook path versions every observation of this upstream by (one clock per subject),
   * so a listing page read after a webhook's lookup wins, and one read before it loses, whatever
   * the upstream's own meta.lastModified says (another machine's clock, sometimes absent).
   */
  observedAt: number;
}

export interface Classification {
  writes: Record<string, unknown>[];
  removals: PendingRemoval[];
  counts: { created: number; updated: number; unchanged: number };
}

/**
 * Compares upstream records with the directory. Unchanged fingerprints and records older than
 * what a webhook already applied are left alone (zero writes); a user the listing shows as newly
 * inactive is held back as a pending removal for the guard; forgotten users stay forgotten.
 */
export function classify(records: UpstreamRecord[], stored: Map<string, StoredUser>, input: { provider: string; runId: string }): Classification {
  const result: Classification = { writes: [], removals: [], counts: { created: 0, updated: 0, unchanged: 0 } };
  for (const { user, observedAt } of records) {
    const row = userRow({ provider: input.provider, occurredAt: observedAt, version: eventVersion(observedAt, `reconcile:${input.runId}`) }, user);
    const current = stored.get(user.externalId);
    if (!current) {
      result.writes.push(row);
      result.counts.created++;
    } else if (current.forgotten_at !== null || current.fingerprint === row.fingerprint || current.last_event_version >= String(row.version)) {
      result.counts.unchanged++;
    } else if (current.active === 1 && !user.active) {
      result.removals.push({ externalId: user.externalId, action: "deactivate", record: row });
    } else {
      result.writes.push(row);
      result.counts.updated++;
    }
  }
  return result;
}

export async function storedUsers(d1: D1Database, provider: string, externalIds: string[]): Promise<Map<string, StoredUser>> {
  if (externalIds.length === 0) return new Map();
  const rows = await d1
    .prepare(
      `SELECT external_id, fingerprint, active, forgotten_at, last_event_version FROM users
       WHERE provider = ? AND external_id IN (SELECT value FROM json_each(?))`,
    )
    .bind(provider, JSON.stringify(externalIds))
    .all<StoredUser>();
  return new Map(rows.results.map((row) => [row.external_id, row]));
}
