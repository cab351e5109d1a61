/**
 * A local SCIM 2.0 upstream for development: the same SCIMMY server the tests use, seeded with a
 * demo directory, so reconciliation and Firstup events can be tried without a Firstup account.
 *
 *   npm run upstream            # http://127.0.0.1:8788/t/demo/scim/v2 (what .dev.vars.example points at),
 *                               # Firstup's webhook subscription API at http://127.0.0.1:8788/t/demo/v2/…
 *                               # and the Scalekit Directory API on :8789 (scripts/local-scalekit.ts)
 *
 * Change the directory while it runs (then `npm run reconcile`):
 *   curl -X PATCH http://127.0.0.1:8788/t/demo/__control -H 'content-type: application/json' \
 *        -d '{"remove": ["demo-0007"]}'
 */
import { scimUser, startScimServer } from "../test/support/scim-server.ts";
import { devVar } from "./dev-vars.ts";

const port = Number(process.env.PORT ?? 8788);
const token = devVar("FIRSTUP_SCIM_TOKEN") ?? "dev-scim-token";
const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const departments = ["Engineering", "Sales", "Legal", "Support"];

const users = Array.from({ length: 250 }, (_, i) => {
  const id = `demo-${String(i).padStart(4, "0")}`;
  return scimUser(id, {
    userName: `${id}@demo.example`,
    emails: [{ value: `${id}@demo.example`, type: "work", primary: true }],
    name: { givenName: `Demo ${i}`, familyName: departments[i % departments.length] },
    active: i % 50 !== 49,
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
    [enterprise]: { employeeNumber: String(1000 + i), department: departments[i % departments.length] },
  });
});

const { url } = await startScimServer(port, { keepAlive: true });
const seeded = await fetch(`${url}/t/demo/__control`, {
  method: "PUT",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ token, users, quirks: { countCap: 50 } }),
});
if (!seeded.ok) throw new Error(`could not seed the demo directory: ${seeded.status}`);
console.log(`SCIM upstream with ${users.length} users at ${url}/t/demo/scim/v2 (bearer token from .dev.vars FIRSTUP_SCIM_TOKEN)`);
console.log("It pages at most 50 users per request, like many real servers. Ctrl-C to stop.");

// Firstup's webhook subscription API on the same host (test/support/firstup-subscriptions.ts), no
// subscriptions yet: the Worker's read token from .dev.vars, and a write token for
// `FIRSTUP_API_TOKEN=dev-firstup-write-token npm run firstup:subscribe`, which stays out of .dev.vars.
const readToken = devVar("FIRSTUP_API_TOKEN") ?? "dev-firstup-read-token";
const webhooks = await fetch(`${url}/t/demo/__control/webhooks`, {
  method: "PUT",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ tokens: { [readToken]: ["webhooks.read"], "dev-firstup-write-token": ["webhooks.read", "webhooks.write"] } }),
});
if (!webhooks.ok) throw new Error(`could not set up the webhook subscription API: ${webhooks.status}`);
console.log(`Firstup webhook subscriptions at ${url}/t/demo/v2/webhooks/subscriptions (read: .dev.vars FIRSTUP_API_TOKEN; write: dev-firstup-write-token)`);

// The Scalekit Directory API on 127.0.0.1:8789 too, so one `npm run upstream` serves both providers.
await import("./local-scalekit.ts");
