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
  });

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

  it("user_updated before user_created still yields the user", async () => {
    const provider = `early-update-${trial++}`;
    const [update, create] = asProvider([events.userUpserted("u", 200, { firstName: "Updated" }), events.userUpserted("u", 100, { firstName: "Created" })], provider);
    const state = await deliver([[update!], [create!]], provider);
    expect(state.users).toEqual([expect.objectContaining({ external_id: "u", first_name: "Updated", active: 1 })]);
  });
});
