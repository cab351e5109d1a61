import type { D1Migration } from "cloudflare:test";

// Test-only bindings on top of the generated Env (worker-configuration.d.ts, from `wrangler types`).
declare global {
  namespace Cloudflare {
    interface Env {
      /** Migrations read by vitest.config.ts, applied by test/apply-migrations.ts. */
      TEST_MIGRATIONS: D1Migration[];
      /** Base URL of the SCIM test server (test/support/scim-server.ts) started by vitest.config.ts. */
      TEST_SCIM_SERVER: string;
      /** Base URL of the local Scalekit Directory API (test/support/scalekit-api.ts); environments live at /t/<name>. */
      TEST_SCALEKIT_API: string;
      /** Base URL of the notification receiver (test/support/app-receiver.ts); tenants live at /t/<name>. */
      TEST_APP_RECEIVER: string;
      /** Where benchmarks inside workerd post their results (bench/run.ts). */
      BENCH_COLLECTOR: string;
    }
  }
}
