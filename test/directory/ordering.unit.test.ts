import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { directorySnapshot, eventMessage, events } from "../support/directory";
import { permutations, seededRandom, shuffle } from "../support/random";

/**
 * Events can arrive in any order, any number of times, in any batching. Whatever happens, the
 * directory must end where in-order, exactly-once delivery leaves it. Each trial writes under
 * its own provider name, so trials share one database without seeing each other.
 */

const scenarios: Record<string, DirectoryEvent[]> = {
  "a user's lifecycle: create, join, update, delete (late updates must not resurrect)": [
    events.groupUpserted("g", 50, "Engineering"),
    events.userUpserted("u", 100, { email: "first@example.com" }),
    events.members("g", 200, ["u"]),
    events.userUpserted("u", 300, { email: "second@example.com", firstName: "Renamed" }),
    events.userDeleted("u", 400),
  ],
  "membership churn around a delete and a re-create": [
    events.members("g", 100, ["u", "v"]),
    events.members("g", 200, [], ["u"]),
    events.members("g", 300, ["u"]),
    events.userDeleted("u", 400),
    events.userUpserted("u", 500, { email: "back@example.com" }),
  ],
  "a group deleted between membership changes": [
    events.groupUpserted("g", 100, "Sales"),
    events.members("g", 200, ["u1", "u2"]),
    events.groupDeleted("g", 300),
    events.members("g", 400, ["u3"]),
    events.groupUpserted("g", 150, "Sales (renamed)"),
  ],
  "deactivate then reactivate, with a stale create": [
    events.userUpserted("u", 100, { active: true }),
    events.userUpserted("u", 200, { active: false }),
    events.userUpserted("u", 300, { active: true, firstName: "Back" }),
    events.members("g", 250, ["u"]),
    events.userUpserted("u", 50, { firstName: "Ancient" }),
  ],
  "events stamped in the same millisecond resolve by event id": [
    events.userUpserted("u", 100, { firstName: "A" }, "evt_tie_a"),
    events.userUpserted("u", 100, { firstName: "B" }, "evt_tie_b"),
    events.members("g", 100, ["u"], [], "evt_tie_c"),
    events.members("g", 100, [], ["u"], "evt_tie_d"),
    events.userUpserted("u", 100, { firstName: "C" }, "evt_tie_0"),
  ],
  "events in the same millisecond order by their sub-millisecond time, not their ids": [
    // Ids sort against time on purpose: only the nanoseconds can put these in order.
    { ...events.userUpserted("u", 100, { firstName: "Created" }, "evt_z"), occurredAtNanos: 100 },
    { ...events.userUpserted("u", 100, { firstName: "Updated" }, "evt_a"), occurredAtNanos: 200_000 },
    { ...events.members("g", 100, ["u"], [], "evt_y"), occurredAtNanos: 300_000 },
    { ...events.members("g", 100, [], ["u"], "evt_b"), occurredAtNanos: 999_999 },
  ],
  "a user's group sets compose with membership events": [
    events.members("g1", 100, ["u"]),
    events.userWithGroups("u", 200, ["g2", "g3"]),
    events.members("g1", 150, ["u"]), // older than the set, for a group not in it: refused
    events.members("g3", 300, [], ["u"]), // newer than the set: wins
    events.userWithGroups("u", 250, ["g1"]), // newer set, older than the removal above
  ],
  "a user's group sets compose with group deletes and group events": [
    events.groupUpserted("g1", 50, "Real name"),
    events.userWithGroups("u", 100, ["g1", "g2"]),
    events.groupDeleted("g2", 200),
    events.userWithGroups("u", 300, ["g2"]),
    events.userWithGroups("u", 150, []),
    events.groupUpserted("g2", 120, "Named by its own event"),
  ],
};

let trial = 0;
const asProvider = (list: DirectoryEvent[], provider: string) => list.map((event) => ({ ...event, provider }));

/** Delivers `batches` one after another; returns the directory state for `provider`. */
async function deliver(batches: DirectoryEvent[][], provider: string) {
  for (const batch of batches) {
    const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
    expect(result.retryMessages).toEqual([]);
  }
  return directorySnapshot(env.DB, provider);
}

async function inOrderState(list: DirectoryEvent[]) {
  const provider = `in-order-${trial++}`;
  return deliver(asProvider(list, provider).map((event) => [event]), provider);
}

describe.each(Object.entries(scenarios))("%s", (_name, scenario) => {
  it("every permutation, one event per batch, converges to the in-order state", async () => {
    const expected = await inOrderState(scenario);
    expect(expected.users.length + expected.groups.length).toBeGreaterThan(0);
    for (const order of permutations(scenario)) {
      const provider = `perm-${trial++}`;
      const state = await deliver(asProvider(order, provider).map((event) => [event]), provider);
      expect(state, `order: ${order.map((event) => event.occurredAt).join(",")}`).toEqual(expected);
    }
    // Exhaustive: 720 orders of 6 events, each 6 D1 batches (with the change-feed triggers), on a
    // machine shared with the rest of the suite.
  }, 180_000);

  it("random duplication and batching patterns converge to the in-order state", async () => {
    const expected = await inOrderState(scenario);
    const seed = 20261123;
    const random = seededRandom(seed);
    for (let run = 0; run < 25; run++) {
      const provider = `dup-${trial++}`;
      const copies = asProvider(scenario, provider).flatMap((event) => Array.from({ length: 1 + Math.floor(random() * 3) }, () => event));
      const arrival = shuffle(copies, random);
      const batches: DirectoryEvent[][] = [];
      for (let i = 0; i < arrival.length; ) {
        const size = 1 + Math.floor(random() * 4);
        batches.push(arrival.slice(i, i + size));
        i += size;
      }
      expect(await deliver(batches, provider), `seed ${seed}, run ${run}`).toEqual(expected);
    }
  });
});

describe("the in-order outcomes themselves", () => {
  it("a deleted user is inactive, keeps a tombstone, and has no memberships", async () => {
    const state = await inOrderState(scenarios["a user's lifecycle: create, join, update, delete (late updates must not resurrect)"]!);
    expect(state.users).toEqual([
      expect.objectContaining({ external_id: "u", active: 0, deleted: 1, deleted_at: 400, email: "u@example.com" }),
    ]);
    expect(state.members).toEqual([]);
  });

  it("a user re-created after a delete is active but not back in groups the delete removed", async () => {
    const state = await inOrderState(scenarios["membership churn around a delete and a re-create"]!);
    expect(state.users).toEqual([expect.objectContaining({ external_id: "u", active: 1, deleted: 0, email: "back@example.com" })]);
    expect(state.members).toEqual([{ group_external_id: "g", user_external_id: "v" }]);
  });

  it("a member added after a group's delete is a member; those before are not", async () => {
    const state = await inOrderState(scenarios["a group deleted between membership changes"]!);
    expect(state.members).toEqual([{ group_external_id: "g", user_external_id: "u3" }]);
    expect(state.groups).toEqual([expect.objectContaining({ external_id: "g", deleted: 1 })]);
  });

  it("same-millisecond events apply in their real (sub-millisecond) order", async () => {
    const state = await inOrderState(scenarios["events in the same millisecond order by their sub-millisecond time, not their ids"]!);
    expect(state.users).toEqual([expect.objectContaining({ external_id: "u", first_name: "Updated" })]);
    expect(state.members).toEqual([]);
  });

  it("a user's group set replaces older memberships, and newer membership events still apply", async () => {
    const state = await inOrderState(scenarios["a user's group sets compose with membership events"]!);
    // The newest set (250) is {g1}: the older set's g2 and the late, older add to g1 give way.
    expect(state.members).toEqual([{ group_external_id: "g1", user_external_id: "u" }]);
  });

  it("groups named only by a user event exist with that name; a group's own events win", async () => {
    const state = await inOrderState(scenarios["a user's group sets compose with group deletes and group events"]!);
    expect(state.groups).toEqual([
      expect.objectContaining({ external_id: "g1", name: "Real name", deleted: 0 }),
      expect.objectContaining({ external_id: "g2", name: "Deleted group", deleted: 1 }),
    ]);
    // The newest set (300) lists g2, after its delete (200): a member, as for any later add.
    expect(state.members).toEqual([{ group_external_id: "g2", user_external_id: "u" }]);
  });

  it("groups: [] leaves the user in no group; a missing groups field changes nothing", async () => {
    const provider = `sets-${trial++}`;
    const list = asProvider([events.userWithGroups("u", 100, ["g1"]), events.userUpserted("u", 200, { firstName: "No groups field" })], provider);
    expect((await deliver(list.map((event) => [event]), provider)).members).toEqual([{ group_external_id: "g1", user_external_id: "u" }]);
    const [empty] = asProvider([events.userWithGroups("u", 300, [])], provider);
    expect((await deliver([[empty!]], provider)).members).toEqual([]);
  });

  it("user_updated before user_created still yields the user", async () => {
    const provider = `early-update-${trial++}`;
    const [update, create] = asProvider([events.userUpserted("u", 200, { firstName: "Updated" }), events.userUpserted("u", 100, { firstName: "Created" })], provider);
    const state = await deliver([[update!], [create!]], provider);
    expect(state.users).toEqual([expect.objectContaining({ external_id: "u", first_name: "Updated", active: 1 })]);
  });
});
