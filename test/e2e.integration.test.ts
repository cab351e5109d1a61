import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually";
import { signedHeaders } from "./support/sign";
import { scalekitEvent, scalekitGroup, scalekitUser } from "./support/scalekit";

/**
 * The whole path with nothing called directly: a signed HTTP request to the Worker, the real
 * Queue binding, the Worker's own queue() consumer (run by workerd), and D1.
 */

async function post(body: unknown, options: Parameters<typeof signedHeaders>[1] = {}) {
  const text = JSON.stringify(body);
  return exports.default.fetch("https://sync.example.com/webhooks/scalekit", { method: "POST", body: text, headers: await signedHeaders(text, options) });
}


const userRow = (externalId: string) =>
  env.DB.prepare("SELECT email, first_name, active, deleted_at FROM users WHERE provider = 'scalekit' AND external_id = ?").bind(externalId).first();

describe("end to end through the real Queue", () => {
  it("a signed user_created lands in D1, and is logged as applied", async () => {
    const response = await post(scalekitEvent("user_created", scalekitUser({ id: "e2e_user" }), { id: "evt_e2e_created" }));
    expect(response.status).toBe(202);
    const row = await eventually(() => userRow("e2e_user"), (value) => value !== null);
    expect(row).toEqual({ email: "john@company.com", first_name: "John", active: 1, deleted_at: null });
    const logged = await eventually(
      () => env.DB.prepare("SELECT status FROM event_log WHERE event_id = 'evt_e2e_created'").first<{ status: string }>(),
      (value) => value !== null,
    );
    expect(logged?.status).toBe("applied");
  });

  it("a group, its members and a later delete flow through in any arrival order", async () => {
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 9, minute)).toISOString();
    const deliveries = [
      scalekitEvent("user_deleted", scalekitUser({ id: "e2e_u2", active: false }), { id: "evt_order_1", timestamp: at(5) }),
      scalekitEvent("group_membership_updated", { group_id: "e2e_g", added_members: ["e2e_u1", "e2e_u2"] }, { id: "evt_order_2", timestamp: at(3) }),
      scalekitEvent("group_created", scalekitGroup({ id: "e2e_g" }), { id: "evt_order_3", timestamp: at(1) }),
      scalekitEvent("user_created", scalekitUser({ id: "e2e_u1" }), { id: "evt_order_4", timestamp: at(1) }),
      scalekitEvent("user_created", scalekitUser({ id: "e2e_u2" }), { id: "evt_order_5", timestamp: at(2) }),
    ];
    for (const delivery of deliveries) expect((await post(delivery)).status).toBe(202);

    const drained = await eventually(
      () => env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND event_id LIKE 'evt_order_%'").first<{ n: number }>(),
      (value) => value?.n === deliveries.length,
    );
    expect(drained?.n).toBe(deliveries.length);
    const members = await env.DB.prepare("SELECT user_external_id FROM group_members WHERE group_external_id = 'e2e_g'").all();
    expect(members.results).toEqual([{ user_external_id: "e2e_u1" }]);
    expect(await userRow("e2e_u2")).toMatchObject({ active: 0, deleted_at: Date.parse(at(5)) });
  });

  it("the same delivery retried by the provider has one effect", async () => {
    const event = scalekitEvent("user_created", scalekitUser({ id: "e2e_once" }), { id: "evt_e2e_once" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(event)).status);
    expect(statuses).toEqual([202, 200, 200]);
    await eventually(() => userRow("e2e_once"), (value) => value !== null);
    const processed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND event_id = 'evt_e2e_once'").first<{ n: number }>();
    expect(processed?.n).toBe(1);
  });

  it("a poison message is retried until max_retries, dead-lettered, and recorded in D1", async () => {
    // Not producible through the HTTP route (ingress validates), so it is put on the queue directly,
    // as a message from an incompatible future deploy would be.
    await env.EVENTS_QUEUE.send({ v: 99, kind: "from_the_future", marker: "e2e_poison" }, { contentType: "json" });
    const row = await eventually(
      () => env.DB.prepare("SELECT body FROM dead_letters WHERE body LIKE '%e2e_poison%'").first<{ body: string }>(),
      (value) => value !== null,
      20_000,
    );
    expect(row).not.toBeNull();
    // Queues only moves a message to the dead-letter queue after max_retries failed deliveries.
    expect(JSON.parse(row!.body)).toMatchObject({ marker: "e2e_poison" });
  });
});
