import { env } from "cloudflare:test";
import fc from "fast-check";
import { expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { directorySnapshot, eventMessage, events } from "../support/directory";

/**
 * For random histories of user, group and membership events over a small universe (so events
 * collide on the same records), any arrival order, any duplication and any batching converge to
 * the state in-order delivery produces. Each run writes under its own provider name.
 */
const USERS = ["u1", "u2", "u3"];
const GROUPS = ["g1", "g2"];

const step = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), user: fc.constantFrom(...USERS), name: fc.constantFrom("A", "B", "C"), active: fc.boolean() }),
  fc.record({ kind: fc.constant("delete" as const), user: fc.constantFrom(...USERS) }),
  fc.record({ kind: fc.constant("group" as const), group: fc.constantFrom(...GROUPS), name: fc.constantFrom("X", "Y") }),
  fc.record({ kind: fc.constant("groupDelete" as const), group: fc.constantFrom(...GROUPS) }),
  fc.record({ kind: fc.constant("members" as const), group: fc.constantFrom(...GROUPS), added: fc.subarray(USERS), removed: fc.subarray(USERS) }),
);

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

function toEvent(item: Step, index: number, provider: string, sameTimeEvery: number): DirectoryEvent {
  // Some events share a timestamp on purpose: the event id must break the tie.
  const at = 1_000 + Math.floor(index / sameTimeEvery);
  const id = `h${String(index).padStart(3, "0")}`;
  const base = (() => {
    switch (item.kind) {
      case "upsert":
        return events.userUpserted(item.user, at, { firstName: item.name, active: item.active }, id);
      case "delete":
        return events.userDeleted(item.user, at, id);
      case "group":
        return events.groupUpserted(item.group, at, item.name, id);
      case "groupDelete":
        return events.groupDeleted(item.group, at, "Deleted", id);
      case "members": {
        const removed = new Set(item.removed);
        return events.members(item.group, at, item.added.filter((user) => !removed.has(user)), item.removed, id);
      }
    }
  })();
  return { ...base, provider };
}

let run = 0;

it("random histories converge whatever the arrival order, duplication and batching", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 10 }),
      fc.integer({ min: 1, max: 3 }),
      fc.infiniteStream(fc.nat()),
      async (history, sameTimeEvery, randomness) => {
        const inOrder = `ord-${run}`;
        const shuffled = `shf-${run++}`;
        const expected = history.map((item, index) => toEvent(item, index, inOrder, sameTimeEvery));
        for (const event of expected) await deliverBatch([eventMessage(event)]);

        const random = randomness[Symbol.iterator]();
        const next = (bound: number) => (random.next().value as number) % bound;
        const copies = history.flatMap((item, index) => Array.from({ length: 1 + next(3) }, () => toEvent(item, index, shuffled, sameTimeEvery)));
        for (let i = copies.length - 1; i > 0; i--) {
          const j = next(i + 1);
          [copies[i], copies[j]] = [copies[j]!, copies[i]!];
        }
        for (let i = 0; i < copies.length; ) {
          const size = 1 + next(4);
          const { result } = await deliverBatch(copies.slice(i, i + size).map((event) => eventMessage(event)));
          expect(result.retryMessages).toEqual([]);
          i += size;
        }
        expect(await directorySnapshot(env.DB, shuffled)).toEqual(await directorySnapshot(env.DB, inOrder));
      },
    ),
    { numRuns: 60 },
  );
}, 120_000);
