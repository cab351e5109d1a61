/**
 * Imports a file of users into a locally running Worker (`npm start`) and follows its report.
 *
 *   npm run import -- users.csv [--organization org_demo] [--provider import-<name>] [--directory dir_1]
 *                      [--format csv|ndjson] [--idempotency-key KEY] [--url http://127.0.0.1:8787]
 *
 * The format comes from the extension (.csv; .ndjson or .jsonl) unless --format says. The admin
 * token is ADMIN_TOKEN from the environment, else from .dev.vars. Prints the import id, its
 * progress, then the report. Exit: 0 every row applied, 1 some row invalid, held or
 * dead-lettered (or the request failed), 2 usage.
 */
import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseArgs } from "node:util";
import { isHttpsOrLoopback } from "../src/url-policy.ts";
import { devVar } from "./dev-vars.ts";

const USAGE = "Usage: npm run import -- <file.csv|file.ndjson> [--organization ID] [--provider import-NAME] [--directory ID] [--format csv|ndjson] [--idempotency-key KEY] [--url URL]";
const TYPES = { csv: "text/csv; charset=utf-8", ndjson: "application/x-ndjson" } as const;

type Report = {
  id: string;
  status: string;
  provider: string;
  rows: Record<"total" | "valid" | "invalid" | "applied" | "ignored" | "held" | "failed" | "dead_lettered" | "pending", number>;
  errors?: { row: number; line: number; code: string; field: string | null }[];
  errors_truncated?: boolean;
  note?: string | null;
};

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      organization: { type: "string", default: "org_demo" },
      provider: { type: "string" },
      directory: { type: "string" },
      format: { type: "string" },
      "idempotency-key": { type: "string" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
    },
  });
} catch (error) {
  usage((error as Error).message);
}
const { values, positionals } = parsed;
const [file] = positionals;
if (!file || positionals.length > 1) usage("Name one file to import.");
if (!existsSync(file)) usage(`No such file: ${file}`);
const extension = extname(file).toLowerCase();
const format = values.format ?? (extension === ".csv" ? "csv" : extension === ".ndjson" || extension === ".jsonl" ? "ndjson" : undefined);
if (format !== "csv" && format !== "ndjson") usage(`Cannot tell the format of ${file}: pass --format csv or --format ndjson.`);
// The admin token and the file (personal data) never cross a network in clear.
if (!isHttpsOrLoopback(values.url)) usage(`--url must be https (http only for 127.0.0.1, localhost, [::1]), without credentials: ${values.url}`);
const token = (process.env.ADMIN_TOKEN ?? devVar("ADMIN_TOKEN"))?.split(/\s+/)[0];
if (!token) usage("No ADMIN_TOKEN in the environment or in .dev.vars (run `npm start` once to create it).");

const query = new URLSearchParams({ organization_id: values.organization });
if (values.provider) query.set("provider", values.provider);
if (values.directory) query.set("directory_id", values.directory);
const headers: Record<string, string> = { authorization: `Bearer ${token}` };

const response = await fetch(`${values.url}/admin/import?${query}`, {
  method: "POST",
  body: readFileSync(file),
  headers: { ...headers, "content-type": TYPES[format], ...(values["idempotency-key"] ? { "idempotency-key": values["idempotency-key"] } : {}) },
});
const answer = (await response.json().catch(() => null)) as (Report & { error?: string; message?: string }) | null;
if (!response.ok || !answer || answer.error) {
  console.error(`${response.status} ${answer?.error ?? ""} ${answer?.message ?? ""}`.trim());
  if (answer && "columns" in answer) console.error(`columns: ${JSON.stringify(answer.columns)}`);
  process.exit(1);
}
console.log(`import ${answer.id} ${response.status === 200 ? "(the earlier import with this Idempotency-Key)" : "accepted"}: ${answer.rows.valid} valid rows of ${answer.rows.total}, into ${answer.provider}`);

const progress = (report: Report) => {
  const { applied, held, failed, dead_lettered, pending } = report.rows;
  return `${report.status}: ${applied} applied, ${pending} pending${held ? `, ${held} held` : ""}${failed ? `, ${failed} failing` : ""}${dead_lettered ? `, ${dead_lettered} dead-lettered` : ""}`;
};
let report: Report = answer;
let shown = "";
const deadline = Date.now() + 10 * 60 * 1000;
while ((report.status === "queued" || report.status === "applying") && Date.now() < deadline) {
  if (progress(report) !== shown) console.log((shown = progress(report)));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  report = (await (await fetch(`${values.url}/admin/import/${answer.id}`, { headers })).json()) as Report;
}
console.log(progress(report));
for (const error of report.errors ?? []) console.log(`  row ${error.row} (line ${error.line}): ${error.code}${error.field ? ` [${error.field}]` : ""}`);
if (report.errors_truncated) console.log(`  … ${report.rows.invalid - (report.errors?.length ?? 0)} more invalid rows (GET /admin/import/${report.id} lists the first 1,000)`);
if (report.note) console.log(`note: ${report.note}`);
const clean = report.status === "done" && report.rows.invalid === 0 && report.rows.held === 0 && report.rows.dead_lettered === 0 && report.rows.failed === 0;
process.exit(clean ? 0 : 1);
