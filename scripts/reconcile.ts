/**
 * Starts a reconciliation run on a locally running Worker and prints its report when it ends.
 *
 *   npm run reconcile [-- --provider firstup] [--url http://127.0.0.1:8787]
 */
import { parseArgs } from "node:util";
import { devVar } from "./dev-vars.ts";

const { values } = parseArgs({
  options: { provider: { type: "string", default: "firstup" }, url: { type: "string", default: "http://127.0.0.1:8787" } },
});
const token = devVar("ADMIN_TOKEN")?.split(/\s+/)[0];
if (!token) {
  console.error("No ADMIN_TOKEN in .dev.vars (run `npm start` once to create it).");
  process.exit(2);
}
const headers = { authorization: `Bearer ${token}` };

const started = await fetch(`${values.url}/admin/reconcile/${values.provider}`, { method: "POST", headers });
if (!started.ok) {
  console.error(`${started.status} ${await started.text()}`);
  process.exit(1);
}
let { run } = (await started.json()) as { run: { id: string; status: string } };
console.log(`run ${run.id} ${run.status}…`);
const deadline = Date.now() + 10 * 60 * 1000;
while (run.status === "running" && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  run = (await (await fetch(`${values.url}/admin/reconcile/runs/${run.id}`, { headers })).json()) as typeof run;
}
console.log(JSON.stringify(run, null, 2));
process.exit(run.status === "completed" ? 0 : 1);
