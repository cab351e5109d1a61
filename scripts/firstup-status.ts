/**
 * Lists Firstup's webhook subscriptions and flags what would stop deliveries reaching this Worker:
 * no subscription, an inactive one, missing events, a version other than "1", one pointing
 * elsewhere, an Authorization header the Worker would refuse, duplicates.
 *
 *   FIRSTUP_API_TOKEN=<token with webhooks.read> npm run firstup:status [-- --url https://<worker>/webhooks/firstup] [--api https://partner.socialchorus.com]
 *
 * Without --url, against a loopback API (`npm run upstream`), the expected URL is `npm start`'s;
 * against Firstup, without --url, only the subscriptions carrying user events are judged.
 * FIRSTUP_WEBHOOK_AUTHORIZATION in the environment (header mode) is checked against each one.
 * Exit: 0 nothing flagged, 1 something flagged or the call failed, 2 usage.
 */
import { parseArgs } from "node:util";
import { assessSubscriptions, createFirstupSubscriptionsClient } from "../src/providers/firstup/subscriptions.ts";
import { isHttpsOrLoopback } from "../src/url-policy.ts";
import {
  acceptedAuthorization,
  apiToken,
  EXIT_OK,
  EXIT_PROBLEM,
  LOCAL_WORKER_WEBHOOK_URL,
  printProblems,
  printSubscriptions,
  reportFailure,
  resolveApiBase,
  UsageError,
} from "./firstup-api.ts";

const SCOPES = "webhooks.read";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { url: { type: "string" }, api: { type: "string" } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nUsage: npm run firstup:status [-- --url https://<worker>/webhooks/firstup] [--api <Firstup API base>]`);
  }
  const api = resolveApiBase(values.api);
  const token = apiToken(SCOPES);
  if (values.url !== undefined && !isHttpsOrLoopback(values.url)) throw new UsageError(`--url must be an https URL (http only for 127.0.0.1, localhost, [::1]): ${values.url}`);
  const expectedUrl = values.url ?? (new URL(api).protocol === "http:" ? LOCAL_WORKER_WEBHOOK_URL : null);

  console.log(`Firstup API: ${api}`);
  console.log(expectedUrl === null ? "Expected URL: not given (--url); judging every subscription with user events" : `Expected URL: ${expectedUrl}${values.url ? "" : " (npm start's; --url to check another)"}`);
  const listing = await createFirstupSubscriptionsClient({ baseUrl: api, token }).list();
  const assessment = await assessSubscriptions(listing, { expectedUrl, acceptedAuthorization: acceptedAuthorization() });
  printSubscriptions(listing.subscriptions, new Set(assessment.relevant));
  if (assessment.ok) {
    console.log(`OK: ${assessment.healthy!.id} delivers user.updated, user.deactivated and user.deleted (version 1)${expectedUrl ? ` to ${expectedUrl}` : ""}.`);
    return EXIT_OK;
  }
  console.log(`${assessment.problems.length} problem${assessment.problems.length === 1 ? "" : "s"}:`);
  printProblems(assessment.problems);
  console.log(
    assessment.healthy === null
      ? "Fix with: npm run firstup:subscribe -- --url <the Worker's /webhooks/firstup URL>"
      : "This Worker is subscribed; deactivate or remove the other subscriptions flagged in Firstup if they are stale (these scripts never delete).",
  );
  return EXIT_PROBLEM;
}

process.exitCode = await main().catch((error: unknown) => reportFailure(error, SCOPES));
