import { env } from "cloudflare:test";
import { it } from "vitest";
import { defaultReconcileConfig } from "../../test/support/reconcile";
import { scalekitEnvironment } from "../../test/support/scalekit-environment";
import { report } from "./measure";
import { countingFetch, measureRun } from "./reconcile-meter";

/**
 * Scalekit reconciliation through the local Directory API (test/support/scalekit-api.ts): one
 * organization with one directory of BENCH_USERS users (100,000 by default), GROUPS groups and the
 * first MEMBERS users in one group each, twice: the first run creates everything, the second finds
 * nothing changed. A run is a discovery run, then the directory's own run (users, groups, each
 * group's members, finish). The API serves at most 30 users a page (its documented maximum), so
 * a listing of 100,000 is 3,334 requests.
 */
const USERS = Number(env.BENCH_USERS || 100_000);
const GROUPS = 20;
const MEMBERS = Math.min(USERS, 10_000);
const ORGANIZATION = "org_bench";
const DIRECTORY = "dir_bench";
const noSleep = async () => {};

it(`Scalekit reconciliation at ${USERS} users`, async () => {
  const environment = scalekitEnvironment("bench-scalekit");
  const groupIds = Array.from({ length: GROUPS }, (_, i) => `dirgrp_${String(i).padStart(2, "0")}`);
  await environment.reset({
    organizations: [{ id: ORGANIZATION, display_name: "Bench" }],
    directories: [{ id: DIRECTORY, organization_id: ORGANIZATION }],
    groups: groupIds.map((id) => ({ id, directory_id: DIRECTORY, display_name: `Group ${id}` })),
    generate: { count: USERS, directoryId: DIRECTORY, groupIds, members: MEMBERS },
  });
  const counter = countingFetch();
  const runs = [];
  for (const label of ["first", "second"]) {
    runs.push(
      await measureRun({
        label,
        provider: "scalekit",
        config: defaultReconcileConfig,
        newClient: () => environment.client({ fetch: counter.fetch, sleep: noSleep }),
        upstreamRequests: counter.requests,
        reportOf: (recent, discovery) => recent.find((run) => run.scope === DIRECTORY && run.startedAt >= discovery.startedAt),
        // The source's own checkpoint names the step: discovery, or the directory run's stage.
        stageOf: (run) => {
          const checkpoint = JSON.parse(run.checkpoint ?? "{}") as { kind?: string; stage?: string };
          return checkpoint.kind === "discovery" ? "discovery" : (checkpoint.stage ?? run.phase);
        },
      }),
    );
  }
  await report("reconcileScalekit", { users: (await environment.stats()).users, groups: GROUPS, memberships: MEMBERS, config: defaultReconcileConfig, runs });
}, 900_000);
