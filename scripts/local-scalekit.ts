/**
 * A local Scalekit Directory API for development: the same server the tests use
 * (test/support/scalekit-api.ts), seeded with a demo organization, so Scalekit reconciliation can
 * be tried without a Scalekit account. `npm run upstream` starts it next to the SCIM upstream;
 * `npm run upstream:scalekit` starts it alone.
 *
 *   http://127.0.0.1:8789/t/demo   (SCALEKIT_ENVIRONMENT_URL in .dev.vars.example)
 *
 * Change the directory while it runs:
 *   curl -X PATCH http://127.0.0.1:8789/t/demo/__control -H 'content-type: application/json' \
 *        -d '{"remove": ["diruser_demo_0007"]}'
 */
import { scalekitUser, startScalekitApi, type StoredGroup } from "../test/support/scalekit-api.ts";
import { devVar } from "./dev-vars.ts";

const port = Number(process.env.SCALEKIT_PORT ?? 8789);
const clientId = devVar("SCALEKIT_CLIENT_ID") ?? "skc_dev_client";
const clientSecret = devVar("SCALEKIT_CLIENT_SECRET") ?? "dev-scalekit-client-secret";
const directoryId = "dir_demo";
const departments = ["Engineering", "Sales", "Legal", "Support"];

const groups: StoredGroup[] = departments.map((name) => ({ id: `dirgroup_${name.toLowerCase()}`, directory_id: directoryId, display_name: name }));
const users = Array.from({ length: 120 }, (_, i) => {
  const id = `diruser_demo_${String(i).padStart(4, "0")}`;
  const department = departments[i % departments.length]!;
  return scalekitUser(id, directoryId, {
    email: `${id}@demo.example`,
    preferred_username: `${id}@demo.example`,
    emails: [`${id}@demo.example`],
    given_name: `Demo ${i}`,
    family_name: department,
    group_ids: [`dirgroup_${department.toLowerCase()}`],
    detail: { active: i % 40 !== 39, dp_id: `okta-${1000 + i}`, department, employee_id: String(1000 + i) },
  });
});

const { url } = await startScalekitApi(port, { keepAlive: true });
const seeded = await fetch(`${url}/t/demo/__control`, {
  method: "PUT",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    clientId,
    clientSecret,
    organizations: [{ id: "org_demo", display_name: "Demo Org" }],
    directories: [{ id: directoryId, organization_id: "org_demo", enabled: true, directory_provider: "OKTA", directory_type: "SCIM" }],
    users,
    groups,
  }),
});
if (!seeded.ok) throw new Error(`could not seed the demo Scalekit environment: ${seeded.status}`);
console.log(`Scalekit Directory API with ${users.length} users in ${groups.length} groups at ${url}/t/demo (client credentials from .dev.vars SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET)`);
