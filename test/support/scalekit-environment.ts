import { env } from "cloudflare:test";
import { createScalekitDirectoryApi, type ScalekitDirectoryApiOptions } from "../../src/providers/scalekit/directory-api";
import { TEST_SCALEKIT_CLIENT_ID, TEST_SCALEKIT_CLIENT_SECRET, type Quirks, type StoredGroup, type StoredUser, type TenantSetup } from "./scalekit-api";

export { scalekitUser } from "./scalekit-api";

/** Drives one environment of the local Scalekit API (test/support/scalekit-api.ts); one per test file or test. */
export function scalekitEnvironment(name: string) {
  const url = `${env.TEST_SCALEKIT_API}/t/${name}`;
  const send = async (method: string, body?: unknown) => {
    const response = await fetch(`${url}/__control`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`Scalekit test API: ${method} ${response.status}`);
    return response;
  };
  return {
    url,
    reset: (setup: TenantSetup) => send("PUT", setup),
    upsert: (...users: StoredUser[]) => send("PATCH", { upsert: users }),
    remove: (...ids: string[]) => send("PATCH", { remove: ids }),
    upsertGroups: (...groups: StoredGroup[]) => send("PATCH", { upsertGroups: groups }),
    setQuirks: (quirks: Quirks) => send("PATCH", { quirks }),
    revokeTokens: () => send("PATCH", { revokeTokens: true }),
    stats: async () => (await (await send("GET")).json()) as { users: number; requests: number; tokenRequests: number; usersPagesServed: number },
    client: (options: Partial<ScalekitDirectoryApiOptions> = {}) =>
      createScalekitDirectoryApi({ environmentUrl: url, clientId: TEST_SCALEKIT_CLIENT_ID, clientSecret: TEST_SCALEKIT_CLIENT_SECRET, ...options }),
    /** Env for code that reads the Scalekit API from bindings, pointed at this environment. */
    env: (extra: Partial<Env> = {}): Env => ({
      ...env,
      SCALEKIT_ENVIRONMENT_URL: url,
      SCALEKIT_CLIENT_ID: TEST_SCALEKIT_CLIENT_ID,
      SCALEKIT_CLIENT_SECRET: TEST_SCALEKIT_CLIENT_SECRET,
      ...extra,
    }),
  };
}
