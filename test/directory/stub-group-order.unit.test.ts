import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events, fullDirectorySnapshot } from "../support/directory";
import { permutations } from "../support/random";

/**
 * Groups named only in user events (stubs) and a group delete without a name: every arrival
 * order must leave the same group row. Found by review: the delete's tombstone used to fall back
 * to whichever stub name had arrived before it.
 */
it("a group's final row does not depend on the order of stub names and a nameless delete", async () => {
  const withName = (event: DirectoryEvent, name: string): DirectoryEvent =>
    event.kind === "user_upserted" && event.groups ? { ...event, groups: event.groups.map((group) => ({ ...group, name })) } : event;
  const history: DirectoryEvent[] = [
    withName(events.userWithGroups("u1", 1_000, ["g1"], "e1"), "Old name"),
    { ...events.groupDeleted("g1", 2_000, "x", "e2"), group: { externalId: "g1", name: null, organizationId: "org_1", directoryId: "dir_1" } } as DirectoryEvent,
    withName(events.userWithGroups("u2", 3_000, ["g1"], "e3"), "New name"),
  ];
  const outcomes = new Set<string>();
  let trial = 0;
  for (const order of permutations(history)) {
    const provider = `stub-order-${trial++}`;
    for (const event of order) await deliverBatch([eventMessage({ ...event, provider })]);
    outcomes.add(JSON.stringify((await fullDirectorySnapshot(env.DB, provider)).groups));
  }
  expect([...outcomes]).toHaveLength(1);
});
