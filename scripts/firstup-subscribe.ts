/**
 * Makes Firstup deliver user.updated, user.deactivated and user.deleted (version "1") to this
 * Worker, idempotently:
 * - a subscription to --url that is active with all three events: nothing is done;
 * - one to --url that is inactive, lacks events, has another version, or (header mode) sends
 *   another Authorization value: it is repaired through Firstup's documented update
 *   (`PUT /v2/webhooks/subscriptions/{id}`), its other events kept, after printing what differs;
 * - none: one is created (`POST /v2/webhooks/subscriptions`).
 * A second subscription to the same URL is never created. Afterwards the listing is read again and
 * checked, so "done" means Firstup says so.
 *
 *   FIRSTUP_API_TOKEN=<token with webhooks.read and webhooks.write> \
 *   [FIRSTUP_WEBHOOK_AUTHORIZATION="Bearer <value>"] \
 *   npm run firstup:subscribe -- --url https://<worker>/webhooks/firstup [--name directory-sync] [--api <base>] [--dry-run]
 *
 * FIRSTUP_WEBHOOK_AUTHORIZATION: only when the Worker authenticates Firstup by header (its
 * FIRSTUP_WEBHOOK_AUTHORIZATION secret): the one value the subscription must send.
 * Exit: 0 subscribed (or, with --dry-run, nothing to change), 1 a change is needed (--dry-run) or
 * a call failed, 2 usage.
 */
import { parseArgs } from "node:util";
import {
  assessSubscriptions,
  createFirstupSubscriptionsClient,
  DEFAULT_SUBSCRIPTION_NAME,
  describeEvents,
  FIRSTUP_WEBHOOK_PATH,
  planSubscription,
  type FirstupSubscription,
  type SubscriptionListing,
} from "../src/providers/firstup/subscriptions.ts";
import { isHttpsOrLoopback } from "../src/url-policy.ts";
import { acceptedAuthorization, apiToken, EXIT_OK, EXIT_PROBLEM, printProblems, reportFailure, resolveApiBase, UsageError } from "./firstup-api.ts";

const SCOPES = "webhooks.read and webhooks.write";
const USAGE = "Usage: npm run firstup:subscribe -- --url https://<worker>/webhooks/firstup [--name <name>] [--api <Firstup API base>] [--dry-run]";

function describe(subscription: FirstupSubscription): string {
  return `${subscription.id} (${subscription.name ?? "no name"}): ${subscription.url}, ${subscription.active ? "active" : "inactive"}, ${describeEvents(subscription.events)}`;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { url: { type: "string" }, name: { type: "string", default: DEFAULT_SUBSCRIPTION_NAME }, api: { type: "string" }, "dry-run": { type: "boolean", default: false } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (!values.url) throw new UsageError(`--url is required.\n${USAGE}`);
  if (!isHttpsOrLoopback(values.url)) throw new UsageError(`--url must be an https URL (http only for 127.0.0.1, localhost, [::1]), without credentials: ${values.url}`);
  if (values.name.trim() === "") throw new UsageError("--name must not be empty.");
  const authorization = acceptedAuthorization();
  if (authorization !== null && authorization.length > 1) throw new UsageError("FIRSTUP_WEBHOOK_AUTHORIZATION holds several values: give the one value the subscription must send.");
  const api = resolveApiBase(values.api);
  const token = apiToken(SCOPES);
  const dryRun = values["dry-run"];

  console.log(`Firstup API: ${api}`);
  if (!new URL(values.url).pathname.endsWith(FIRSTUP_WEBHOOK_PATH)) console.log(`Note: the Worker receives Firstup deliveries at ${FIRSTUP_WEBHOOK_PATH}; ${values.url} does not end with it.`);
  if (authorization === null) console.log("No FIRSTUP_WEBHOOK_AUTHORIZATION: deliveries carry no Authorization header, so the Worker must verify them by signature (FIRSTUP_WEBHOOK_SECRET).");

  const client = createFirstupSubscriptionsClient({ baseUrl: api, token });
  const listing = await client.list();
  const plan = await planSubscription(listing, { url: values.url, name: values.name.trim(), authorization: authorization?.[0] ?? null });
  /** What else the listing shows (subscriptions elsewhere, duplicates): reported, never changed. */
  const printNotes = async (current: SubscriptionListing) => {
    const assessment = await assessSubscriptions(current, { expectedUrl: values.url!, acceptedAuthorization: authorization });
    const others = assessment.problems.filter((problem) => problem.code !== "not_subscribed");
    if (others.length > 0) {
      console.log("Other subscriptions to look at (deactivate or remove them in Firstup if they are stale):");
      printProblems(others);
    }
    return assessment;
  };

  switch (plan.action) {
    case "refuse":
      console.error("The listing stopped at its page cap, so a subscription to this URL may exist unseen; not creating another.");
      return EXIT_PROBLEM;
    case "none":
      console.log(`Already subscribed, nothing to do: ${describe(plan.subscription)}`);
      await printNotes(listing);
      return EXIT_OK;
    case "update":
      console.log(`${plan.subscription.id} points at ${plan.subscription.url} but differs:`);
      for (const change of plan.changes) console.log(`  - ${change}`);
      if (dryRun) {
        console.log("Dry run: not updated.");
        return EXIT_PROBLEM;
      }
      console.log(`Updated: ${describe(await client.update(plan.subscription.id, plan.patch))}`);
      break;
    case "create":
      if (dryRun) {
        console.log(`Dry run: would create "${plan.input.name}" → ${plan.input.url}, active, ${describeEvents(plan.input.events)}.`);
        return EXIT_PROBLEM;
      }
      console.log(`Created: ${describe(await client.create(plan.input))}`);
      break;
  }

  // Read it back: done is what Firstup now says, not what it answered to the write.
  const assessment = await printNotes(await client.list());
  if (assessment.healthy === null) {
    console.error("Firstup's listing does not show a working subscription to this URL yet:");
    printProblems(assessment.problems);
    return EXIT_PROBLEM;
  }
  console.log(`Subscribed: ${assessment.healthy.id} delivers user.updated, user.deactivated and user.deleted (version 1) to ${values.url}.`);
  return EXIT_OK;
}

process.exitCode = await main().catch((error: unknown) => reportFailure(error, SCOPES));
