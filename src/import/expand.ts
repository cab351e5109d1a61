import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { foldCase } from "../directory/fold";
import type { DirectoryEvent } from "../events";
import { QUEUE_MESSAGE_VERSION, type EventMessage, type ImportChunkMessage } from "../queue-message";

/**
 * A chunk's rows → one neutral user event each, so they are applied, recorded, guarded, retried
 * and replayed exactly like any provider's events:
 * - event id `<import id>:<row>`: each row is exactly-once on its own;
 * - version: the import's acceptance time, with the row number as its sub-millisecond part, so in
 *   one import a later row for the same user wins, and a later import wins over an earlier one;
 * - `groups`, when the row has the field: the user's groups in the namespace become exactly these (a
 *   group missing is created; its name is the latest row's spelling, as with any provider's group
 *   named by a user event); no `groups`: memberships are left alone.
 */

/** The event log's `source_type` of import rows. */
export const IMPORT_SOURCE_TYPE = "import.row";

const encoder = new TextEncoder();

/** A group's id in an import namespace: from its case-folded name, so every import finds the same group. */
export function importGroupId(name: string): string {
  return `grp_${bytesToHex(sha256(encoder.encode(foldCase(name)))).slice(0, 32)}`;
}

export const importEventId = (importId: string, row: number) => `${importId}:${row}`;

export function rowEvents(chunk: ImportChunkMessage): EventMessage[] {
  return chunk.rows.map((row): EventMessage => {
    const event: DirectoryEvent = {
      kind: "user_upserted",
      provider: chunk.provider,
      eventId: importEventId(chunk.importId, row.row),
      occurredAt: chunk.receivedAt,
      occurredAtNanos: row.row,
      sourceType: IMPORT_SOURCE_TYPE,
      user: {
        externalId: row.external_id,
        email: row.email ?? null,
        firstName: row.first_name ?? null,
        lastName: row.last_name ?? null,
        active: row.active,
        organizationId: chunk.organizationId,
        directoryId: chunk.directoryId,
        userName: null,
        scimExternalId: null,
        attributes: null,
        providerRoles: null,
      },
      groups: row.groups?.map((name) => ({ externalId: importGroupId(name), name })) ?? null,
    };
    return { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt: chunk.receivedAt, event };
  });
}
