// Bindings only the benchmarks have (bench/vitest.config.ts), on top of test/env.d.ts.
declare global {
  namespace Cloudflare {
    interface Env {
      /** Users in the reconciliation benchmarks' directories; empty: their default. */
      BENCH_USERS: string;
    }
  }
}

export {};
