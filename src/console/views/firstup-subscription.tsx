import type { FirstupSubscriptionReport } from "../../providers/firstup/subscription-status";
import { describeEvents, describeProblem } from "../../providers/firstup/subscriptions";
import { utc } from "./format";

/**
 * The body of the overview's `firstup-subscription` panel (the section and heading are the
 * overview's): whether Firstup delivers user.updated, user.deactivated and user.deleted (version 1)
 * to this Worker, from checkFirstupSubscriptions. The status element carries
 * `data-testid="status"` and `data-state` (not_configured, unreachable, unauthorized, ok,
 * problems); each problem is a `firstup-problem` item with its code.
 */

const NOT_CONFIGURED: Record<Extract<FirstupSubscriptionReport, { status: "not_configured" }>["reason"], string> = {
  no_token: "not configured: FIRSTUP_API_TOKEN (webhooks.read) is not set",
  no_api_url: "not configured: set FIRSTUP_API_URL (or FIRSTUP_SCIM_URL, whose host it defaults to)",
  invalid_setting: "not configured: FIRSTUP_API_URL is invalid (see Health, Settings)",
};

const STATE_CLASS: Record<FirstupSubscriptionReport["status"], string> = {
  not_configured: "status-not_configured",
  unreachable: "status-error",
  unauthorized: "status-error",
  ok: "status-ok",
  problems: "status-error",
};

function headline(report: FirstupSubscriptionReport): string {
  switch (report.status) {
    case "not_configured":
      return NOT_CONFIGURED[report.reason];
    case "unreachable":
      return `Firstup unreachable (${report.reason})`;
    case "unauthorized":
      return report.reason === "forbidden" ? "FIRSTUP_API_TOKEN lacks the webhooks.read scope (403)" : "Firstup refused FIRSTUP_API_TOKEN (401): expired or revoked?";
    case "ok":
      return "ok: user events are delivered here";
    case "problems":
      return `${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}`;
  }
}

export function FirstupSubscriptionPanel({ report }: { report: FirstupSubscriptionReport }) {
  const checked = "checkedAt" in report ? report.checkedAt : null;
  return (
    <>
      <p>
        <span class={STATE_CLASS[report.status]} data-testid="status" data-state={report.status} data-reason={"reason" in report ? report.reason : undefined}>
          {headline(report)}
        </span>
      </p>
      {"problems" in report && report.problems.length > 0 ? (
        <ul>
          {report.problems.map((problem) => (
            <li data-testid="firstup-problem" data-code={problem.code}>
              <code>{problem.code}</code>
              {`: ${describeProblem(problem)}`}
            </li>
          ))}
        </ul>
      ) : null}
      {"subscriptions" in report ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Subscription</th>
              <th scope="col">URL</th>
              <th scope="col">Active</th>
              <th scope="col">Events</th>
            </tr>
          </thead>
          <tbody>
            {report.subscriptions.map((subscription) => (
              <tr data-testid="subscription-row" data-id={subscription.id}>
                <th scope="row">{subscription.name ? `${subscription.name} (${subscription.id})` : subscription.id}</th>
                <td>{subscription.url}</td>
                <td class={subscription.active ? "status-ok" : "status-error"}>{subscription.active ? "active" : "inactive"}</td>
                <td>{describeEvents(subscription.events)}</td>
              </tr>
            ))}
            {report.subscriptions.length === 0 ? (
              <tr>
                <td colspan={4} class="muted">
                  No subscription carries user events.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      ) : null}
      {"expectedUrl" in report ? (
        <p class="hint">
          {`Expected: ${report.expectedUrl}`}
          {report.otherSubscriptions > 0 ? ` · ${report.otherSubscriptions} other subscription${report.otherSubscriptions === 1 ? "" : "s"} (no user events) not shown` : ""}
        </p>
      ) : null}
      {report.status === "problems" ? (
        <p class="hint">
          Fix from an operator's machine: <code>{`npm run firstup:subscribe -- --url ${report.expectedUrl}`}</code> (token with webhooks.write, never given to the Worker).
        </p>
      ) : null}
      {checked ? <p class="hint">{`Checked ${utc(Date.parse(checked))} (reused for up to a minute).`}</p> : null}
    </>
  );
}
