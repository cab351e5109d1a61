/**
 * Starts a reconciliation run on a locally running Worker and prints its report when it ends.
 * For Scalekit, the run is a discovery run that starts one run per enabled directory: every one
 * of them is waited for and printed.
 *
 *   npm run reconcile [-- firstup|scalekit] [--url http://127.0.0.1:8787]
 *   (--provider <name> works too)
 */
import { parseArgs } from "node:util";
import { devVar } from "./dev-vars.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { provider: { type: "string" }, url: { type: "string", default: "http://127.0.0.1:8787" } },
});
const provider = values.provider ?? positionals[0] ?? "firstup";
const token = devVar("ADMIN_TOKEN")?.split(/\s+/)[0];
if (!token) {
  console.error("No ADMIN_TOKEN in .dev.vars (run `npm start` once to create it).");
  process.exit(2);
}
const headers = { authorization: `Bearer ${token}` };
type Run = { id: string; status: string; scope: string; startedAt: string };

const started = await fetch(`${values.url}/admin/reconcile/${provider}`, { method: "POST", headers });
if (!started.ok) {
  console.error(`${started.status} ${await started.text()}`);
  process.exit(1);
}
let { run } = (await started.json()) as { run: Run };
console.log(`run ${run.id} ${run.status}…`);
const deadline = Date.now() + 10 * 60 * 1000;
const pause = () => new Promise((resolve) => setTimeout(resolve, 1000));
while (run.status === "running" && Date.now() < deadline) {
  await pause();
  run = (await (await fetch(`${values.url}/admin/reconcile/runs/${run.id}`, { headers })).json()) as Run;
}
console.log(JSON.stringify(run, null, 2));
let ok = run.status === "completed";

// The runs this one started (Scalekit's directory runs): same provider, a scope, started since.
const children = async () => {
  const { runs } = (await (await fetch(`${values.url}/admin/reconcile/runs?provider=${provider}&limit=100`, { headers })).json()) as { runs: Run[] };
  return runs.filter((other) => other.scope !== "" && other.startedAt >= run.startedAt);
};
let directoryRuns = await children();
while (directoryRuns.some((child) => child.status === "running") && Date.now() < deadline) {
  await pause();
  directoryRuns = await children();
}
for (const child of directoryRuns) {
  console.log(JSON.stringify(child, null, 2));
  ok &&= child.status === "completed";
}
process.exit(ok ? 0 : 1);
