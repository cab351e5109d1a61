import type { D1Migration } from "cloudflare:test";

// Bindings that exist only in tests (vitest.config.ts), on top of the generated Env.
declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
