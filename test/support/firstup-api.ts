import { env } from "cloudflare:test";
import type { StoredSubscription, WebhookTenantSetup } from "./firstup-subscriptions";

/** Tokens every program below accepts, by what they may do. */
export const WEBHOOKS_READ_WRITE_TOKEN = "test-webhooks-read-write";
export const WEBHOOKS_READ_TOKEN = "test-webhooks-read";
export const WEBHOOKS_WRITE_ONLY_TOKEN = "test-webhooks-write-only";
const TOKENS = {
  [WEBHOOKS_READ_WRITE_TOKEN]: ["webhooks.read", "webhooks.write"],
  [WEBHOOKS_READ_TOKEN]: ["webhooks.read"],
  [WEBHOOKS_WRITE_ONLY_TOKEN]: ["webhooks.write"],
};

export const USER_EVENTS = [
  { name: "user.updated", version: "1" },
  { name: "user.deactivated", version: "1" },
  { name: "user.deleted", version: "1" },
];

/**
 * One Firstup program on the emulator (test/support/firstup-subscriptions.ts, beside the SCIM
 * test server): its API base, its control plane, and an Env pointing the Worker at it.
 */
export function firstupProgram(name: string) {
  const api = `${env.TEST_SCIM_SERVER}/t/${name}`;
  const control = `${api}/__control/webhooks`;
  return {
    api,
    reset: async (setup: WebhookTenantSetup = {}) => {
      const response = await fetch(control, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ tokens: TOKENS, ...setup }) });
      if (response.status !== 204) throw new Error(`Firstup emulator: reset ${response.status}`);
    },
    state: async () => (await (await fetch(control)).json()) as { subscriptions: StoredSubscription[]; requests: { list: number; create: number; update: number } },
    /** Env for the Worker's side: the API set explicitly (FIRSTUP_API_URL) and the read token. */
    env: (extra: Partial<Env> = {}): Env => ({ ...env, FIRSTUP_API_URL: api, FIRSTUP_API_TOKEN: WEBHOOKS_READ_TOKEN, ...extra }),
  };
}
