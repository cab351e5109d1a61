import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { capturingQueue, defaultReconcileConfig } from "../support/reconcile";
import { signedDelivery } from "../support/scalekit";
import { scalekitEnvironment, scalekitUser } from "../support/scalekit-environment";

/** Hostile-review case: Scalekit webhook (no directory_id) vs reconciliation (directory_id) — announced when nothing changed. */

const ORG = "org_ff";
const DIR = "dir_ff";
const noSleep = async () => {};

async function reconcileScalekit(environment: ReturnType<typeof scalekitEnvironment>, now: () => number) {
  const captured = capturingQueue();
  const client = environment.client({ sleep: noSleep });
  await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "scalekit", "test");
  let steps = 0;
  for (let message = captured.take(); message && steps < 500; message = captured.take()) {
    steps++;
    const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config: { ...defaultReconcileConfig, pageSize: 10 }, now });
    if (next) captured.sent.push(next);
  }
}
const changesAfter = async (seq: number) =>
  (await env.DB.prepare("SELECT seq, type, subject, source, data FROM changes WHERE seq > ? ORDER BY seq").bind(seq).all<{ seq: number; type: string; subject: string; source: string; data: string }>()).results;
const latest = async () => (await env.DB.prepare("SELECT coalesce(max(seq), 0) AS s FROM changes").first<{ s: number }>())!.s;

describe("review 12: Scalekit flip-flop", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM directories; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM work_claims; DELETE FROM event_log; DELETE FROM changes; DELETE FROM change_erasures;",
    );
  });

  it("a webhook that mirrors the listed user, then an unchanged reconciliation, announce nothing", async () => {
    const environment = scalekitEnvironment("r12-flipflop");
    const users = Array.from({ length: 20 }, (_, i) => scalekitUser(`dirusr_ff${String(i).padStart(2, "0")}`, DIR));
    await environment.reset({ organizations: [{ id: ORG, display_name: "FF" }], directories: [{ id: DIR, organization_id: ORG, enabled: true }], users, groups: [], quirks: {} });
    await reconcileScalekit(environment, Date.now);
    const landed = await latest();
    // Scalekit's documented user_updated for dirusr_ff00, with exactly the listed profile (its events carry no directory_id).
    const u = users[0]!;
    const parsed = scalekit.parse(
      signedDelivery({
        spec_version: "1",
        id: "evt_ff_mirror",
        type: "organization.directory.user_updated",
        occurred_at: new Date(Date.now() + 1000).toISOString(),
        environment_id: "env_1",
        organization_id: ORG,
        object: "DirectoryUser",
        data: { id: u.id, email: u.email, preferred_username: u.preferred_username, given_name: u.given_name, family_name: u.family_name, organization_id: ORG, active: true, dp_id: "idp-" + u.id },
      }),
    );
    if (parsed.outcome !== "event") throw new Error("fixture did not parse");
    await deliverBatch([eventMessage(parsed.event)]);
    const afterWebhook = await changesAfter(landed);
    await reconcileScalekit(environment, () => Date.now() + 60_000); // upstream unchanged
    const afterRun = (await changesAfter(landed)).filter((change) => change.seq > (afterWebhook.at(-1)?.seq ?? landed));
    console.log("R12", JSON.stringify(afterWebhook.map((c) => [c.type, JSON.parse(c.data).changed])), JSON.stringify(afterRun.map((c) => [c.type, c.source, JSON.parse(c.data).changed])));
    expect.soft(afterWebhook.map((change) => [change.type, change.data]), "webhook that changed nothing upstream").toEqual([]);
    expect(afterRun.map((change) => [change.type, change.source, JSON.parse(change.data).changed]), "unchanged reconciliation").toEqual([]);
  });
});
