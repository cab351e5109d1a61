import type { ProviderAdapter } from "../providers/types";
import type { ConfiguredAuthentication } from "./authenticate";

/** Hono typing shared by every router: bindings plus per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    /** The clock, injectable so tests can replay deliveries at any time. */
    now: () => number;
    adapter: ProviderAdapter;
    authentication: ConfiguredAuthentication;
  };
};
