import { beforeAll, describe, expect, it } from "vitest";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { ADMIN, seedDirectory } from "../support/seed";
import { signedHeaders } from "../support/sign";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
// The old global name map: valid JSON, refused because any tenant's "Admins" would grant admin.
const LEGACY_MAPPING = '{"Admins": ["admin"], "SecretGroupName": ["billing"]}';

describe("an invalid ROLE_MAPPING stops only what computes roles", () => {
  beforeAll(seedDirectory);

  it("the /v1 user routes answer 503 service_misconfigured; other reads still answer", async () => {
    for (const path of ["/v1/users", "/v1/users/scalekit/alice"]) {
      const response = await callApp(new Request(BASE + path, { headers: ADMIN }), { ROLE_MAPPING: LEGACY_MAPPING });
      expect(response.status, path).toBe(503);
      expect(await response.json()).toMatchObject({ error: "service_misconfigured" });
    }
    for (const path of ["/v1/groups", "/v1/groups/scalekit/grp_eng/members", "/scim/v2/Users", "/scim/v2/Users/scalekit:alice", "/scim/v2/Groups", "/admin/events"]) {
      const response = await callApp(new Request(BASE + path, { headers: ADMIN }), { ROLE_MAPPING: LEGACY_MAPPING });
      expect(response.status, path).toBe(200);
    }
  });

  it("webhooks are still accepted (202)", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_during_bad_mapping" })));
    const response = await callApp(new Request(`${BASE}/webhooks/scalekit`, { method: "POST", body, headers: await signedHeaders(body) }), { ROLE_MAPPING: LEGACY_MAPPING });
    expect(response.status).toBe(202);
  });

  it("/healthz answers 503 degraded and names ROLE_MAPPING, never its value", async () => {
    const response = await callApp(new Request(`${BASE}/healthz`), { ROLE_MAPPING: LEGACY_MAPPING });
    expect(response.status).toBe(503);
    const text = await response.text();
    const body = JSON.parse(text) as { status: string; config: string; invalid_settings: { setting: string; problem: string }[] };
    expect(body).toMatchObject({ status: "degraded", checks: { d1: "ok", kv: "ok", queue: "ok", notify_queue: "ok" }, config: "invalid" });
    expect(body.invalid_settings.map((problem) => problem.setting)).toEqual(["ROLE_MAPPING"]);
    expect(text).not.toContain("SecretGroupName");
  });
});

describe("/healthz names every invalid setting", () => {
  it.each([
    [{ FIRSTUP_SCIM_URL: "ftp://scim.example.com/v2", FIRSTUP_SCIM_TOKEN: "token-value-not-shown" }, "FIRSTUP_SCIM_URL"],
    [{ RECONCILE_PAGE_SIZE: "lots" }, "RECONCILE_PAGE_SIZE"],
    [{ WEBHOOK_TOLERANCE_SECONDS: "-1" }, "WEBHOOK_TOLERANCE_SECONDS"],
    [{ ADMIN_TOKEN: "has,a,comma" }, "ADMIN_TOKEN"],
  ])("%j → %s", async (overrides, setting) => {
    const response = await callApp(new Request(`${BASE}/healthz`), overrides as Partial<Env>);
    expect(response.status).toBe(503);
    const text = await response.text();
    const body = JSON.parse(text) as { config: string; invalid_settings: { setting: string }[] };
    expect(body.config).toBe("invalid");
    expect(body.invalid_settings.map((problem) => problem.setting)).toContain(setting);
    for (const value of Object.values(overrides)) expect(text).not.toContain(value);
  });

  it("is ok with the defaults and with the empty legacy ROLE_MAPPING {}", async () => {
    for (const ROLE_MAPPING of ["[]", "{}"]) {
      const response = await callApp(new Request(`${BASE}/healthz`), { ROLE_MAPPING });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "ok", config: "ok", invalid_settings: [] });
    }
  });
});
