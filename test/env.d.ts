import type { D1Migration } from "cloudflare:test";

// Test-only typing on top of the generated Env (worker-configuration.d.ts).
declare global {
  namespace Cloudflare {
    interface Env {
      /** Migrations read by vitest.config.ts, applied by test/apply-migrations.ts. */
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      /** Types `exports.default` from "cloudflare:workers" as this Worker's own handlers. */
      mainModule: typeof import("../src/index");
    }
  }
}
