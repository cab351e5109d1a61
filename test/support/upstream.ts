import { env } from "cloudflare:test";
import { createScimClient, type ScimClientOptions } from "../../src/providers/firstup/scim-client";
import type { Quirks } from "./scim-server";

export { scimUser } from "./scim-server";

/** Drives the SCIM test server's control plane for one tenant (one per test file or test). */
export function upstreamTenant(name: string) {
  const control = `${env.TEST_SCIM_SERVER}/t/${name}/__control`;
  const url = `${env.TEST_SCIM_SERVER}/t/${name}/scim/v2`;
  const send = async (method: string, body?: unknown) => {
    const response = await fetch(control, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`SCIM test server: ${method} ${response.status}`);
    return response;
  };
  return {
    url,
    token: "test-scim-token",
    reset: (state: { users?: Record<string, unknown>[]; groups?: Record<string, unknown>[]; quirks?: Quirks; token?: string }) => send("PUT", state),
    upsert: (...users: Record<string, unknown>[]) => send("PATCH", { upsert: users }),
    remove: (...ids: string[]) => send("PATCH", { remove: ids }),
    setQuirks: (quirks: Quirks) => send("PATCH", { quirks }),
    stats: async () => (await (await send("GET")).json()) as { users: number; requests: number; listPagesServed: number },
    client: (options: Partial<ScimClientOptions> = {}) => createScimClient({ baseUrl: url, token: "test-scim-token", ...options }),
    /** Env for code that reads the upstream from bindings, pointed at this tenant. */
    env: (extra: Partial<Env> = {}): Env => ({ ...env, FIRSTUP_SCIM_URL: url, FIRSTUP_SCIM_TOKEN: "test-scim-token", ...extra }),
  };
}
