import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { resolveRefresh } from "../../src/providers/firstup/resolve-refresh";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events, fullDirectorySnapshot } from "../support/directory";
import { scimUser, upstreamTenant } from "../support/upstream";

/**
 * For random histories of user (with and without their full set of groups), group, membership,
 * erasure and upstream-refresh events over a small universe (so events collide on the same
 * records), any arrival order, any duplication and any batching converge to the state in-order delivery produces, field for field.
 *
 * Refreshes are resolved by the real resolver against a real SCIM server, with the consumer's
 * clock set to the step's time: that is the "one clock per subject" the directory relies on (an
 * erasure and a refresh are both observations on it). Each run writes under its own provider name.
 */
const USERS = ["u1", "u2", "u3"];
const GROUPS = ["g1", "g2"];
const upstream = upstreamTenant("ordering-property");

const step = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), user: fc.constantFrom(...USERS), name: fc.constantFrom("A", "B", "C"), active: fc.boolean() }),
  fc.record({ kind: fc.constant("delete" as const), user: fc.constantFrom(...USERS) }),
  fc.record({ kind: fc.constant("forget" as const), user: fc.constantFrom(...USERS) }),
  fc.record({ kind: fc.constant("refresh" as const), user: fc.constantFrom(...USERS), reason: fc.constantFrom("updated" as const, "deleted" as const) }),
  fc.record({ kind: fc.constant("group" as const), group: fc.constantFrom(...GROUPS), name: fc.constantFrom("X", "Y") }),
  fc.record({ kind: fc.constant("groupDelete" as const), group: fc.constantFrom(...GROUPS) }),
  fc.record({ kind: fc.constant("members" as const), group: fc.constantFrom(...GROUPS), added: fc.subarray(USERS), removed: fc.subarray(USERS) }),
  // A user event carrying the user's full set of groups (Scalekit), mixed with the membership events above.
  fc.record({ kind: fc.constant("userGroups" as const), user: fc.constantFrom(...USERS), groups: fc.subarray([...GROUPS, "g3"]) }),
);

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

async function toEvent(item: Step, index: number, provider: string, sameTimeEvery: number): Promise<DirectoryEvent | null> {
  // Some events share a timestamp on purpose: the event id must break the tie.
  const at = 1_000 + Math.floor(index / sameTimeEvery);
  const id = `h${String(index).padStart(3, "0")}`;
  const base = { provider, sourceType: "test", eventId: id, occurredAt: at };
  switch (item.kind) {
    case "upsert":
      return { ...events.userUpserted(item.user, at, { firstName: item.name, active: item.active }, id), provider };
    case "delete":
      return { ...events.userDeleted(item.user, at, id), provider };
    case "forget":
      return { ...base, kind: "user_forgotten", externalId: item.user };
    case "refresh": {
      const refresh = { ...base, kind: "user_refresh" as const, externalId: item.user, reason: item.reason, signed: true };
      const resolution = await resolveRefresh(refresh, upstream.client(), {
        now: () => at,
        receivedAt: at,
        released: false,
        absenceConfirmDelaySeconds: 0,
        confirmBudgetMs: 0,
        waitDelaySeconds: 5,
      });
      // A deletion the upstream does not confirm applies nothing (it waits or fails).
      return resolution.outcome === "apply" ? resolution.event : null;
    }
    case "group":
      return { ...events.groupUpserted(item.group, at, item.name, id), provider };
    case "groupDelete":
      return { ...events.groupDeleted(item.group, at, "Deleted", id), provider };
    case "userGroups":
      return { ...events.userWithGroups(item.user, at, item.groups, id), provider };
    case "members": {
      const removed = new Set(item.removed);
      return { ...events.members(item.group, at, item.added.filter((user) => !removed.has(user)), item.removed, id), provider };
    }
  }
}

async function toEvents(history: Step[], provider: string, sameTimeEvery: number): Promise<DirectoryEvent[]> {
  const resolved = await Promise.all(history.map((item, index) => toEvent(item, index, provider, sameTimeEvery)));
  return resolved.filter((event): event is DirectoryEvent => event !== null);
}

beforeAll(async () => {
  // u1 active, u2 inactive upstream, u3 gone (a refresh of u3 resolves to an erasure).
  await upstream.reset({
    users: [
      scimUser("u1", { userName: "ÉLODIE@exemple.fr", name: { givenName: "Élodie", familyName: "Straße" }, emails: [{ value: "elodie@exemple.fr", primary: true }] }),
      scimUser("u2", { active: false, externalId: "HR-2" }),
    ],
  });
});

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
        for (const event of await toEvents(history, inOrder, sameTimeEvery)) await deliverBatch([eventMessage(event)]);

        const random = randomness[Symbol.iterator]();
        const next = (bound: number) => (random.next().value as number) % bound;
        const once = await toEvents(history, shuffled, sameTimeEvery);
        const copies = once.flatMap((event) => Array.from({ length: 1 + next(3) }, () => event));
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
        expect(await fullDirectorySnapshot(env.DB, shuffled)).toEqual(await fullDirectorySnapshot(env.DB, inOrder));
      },
    ),
    { numRuns: 60 },
  );
}, 180_000);
