import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { startAppReceiver } from "../test/support/app-receiver";
import { startScalekitApi } from "../test/support/scalekit-api";
import { startScimServer } from "../test/support/scim-server";

// Benchmarks inside workerd, run by bench/run.ts and bench/reconcile.ts (never by `npm test`) from
// the repository root: same bindings as the tests, plus BENCH_COLLECTOR, where results are posted.
// BENCH_INCLUDE (comma-separated globs) picks the files; by default, all but reconciliation.
export default defineConfig(async () => {
  const scim = await startScimServer();
  // The local Scalekit Directory API, for the Scalekit reconciliation benchmark.
  const scalekit = await startScalekitApi();
  // The application that receives change notifications (the cost model's notifications run).
  const appReceiver = await startAppReceiver();
  const collector = process.env.BENCH_COLLECTOR;
  if (!collector) throw new Error("run benchmarks with `npm run bench`");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: await readD1Migrations("./migrations"),
            TEST_SCIM_SERVER: scim.url,
            TEST_SCALEKIT_API: scalekit.url,
            TEST_APP_RECEIVER: appReceiver.url,
            BENCH_COLLECTOR: collector,
            // Directory size of the reconciliation benchmarks; empty: their default (100,000).
            BENCH_USERS: process.env.BENCH_USERS ?? "",
            SCALEKIT_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            FIRSTUP_SCIM_URL: `${scim.url}/t/bench/scim/v2`,
            FIRSTUP_SCIM_TOKEN: "test-scim-token",
            RETRY_BASE_DELAY_SECONDS: "0",
            // Pinned empty, so a developer's .dev.vars never reaches the benchmarks.
            READ_TOKENS: "",
            SCALEKIT_ENVIRONMENT_URL: "",
            SCALEKIT_CLIENT_ID: "",
            SCALEKIT_CLIENT_SECRET: "",
            APP_WEBHOOK_URL: "",
            APP_WEBHOOK_SECRET: "",
          },
        },
      }),
    ],
    test: {
      include: process.env.BENCH_INCLUDE?.split(",") ?? ["bench/workerd/*.bench.ts"],
      // Reconciliation at 100,000 users takes minutes: only `npm run bench:reconcile` runs it.
      exclude: process.env.BENCH_INCLUDE ? [] : ["bench/workerd/reconcile*.bench.ts"],
      setupFiles: ["./test/apply-migrations.ts"],
      testTimeout: 300_000,
      fileParallelism: false,
      onConsoleLog: (line: string) => !line.startsWith('{"event":'),
    },
  };
});
