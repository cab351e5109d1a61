import { Layout, type LayoutSession } from "./layout";

/** Stable codes of the console's error pages (shown on the page as `data-code`, like the JSON API's `error`). */
export type ConsoleErrorCode = "invalid_token" | "insufficient_scope" | "csrf_invalid" | "not_found" | "invalid_form" | "invalid_query" | "too_many_selected" | "payload_too_large";

export const CONSOLE_ERROR_MESSAGES: Record<ConsoleErrorCode, string> = {
  invalid_token: "That token is not valid here.",
  insufficient_scope: "Your session is read-only: it can see every page but cannot replay, start runs or import. Sign in with an admin token to do that.",
  csrf_invalid: "The form could not be verified (it was sent from another site, or its page is too old). Reload the page and try again.",
  not_found: "There is no such console page.",
  invalid_form: "The form was incomplete or invalid.",
  invalid_query: "A filter or page link was invalid (a time must be a date and time, a status one of the listed ones). Change the filter and try again.",
  too_many_selected: "Too many dead letters were selected for one replay (at most 100). Select fewer and try again.",
  payload_too_large: "The form was larger than any console form can be.",
};

export function ErrorPage({ code, session, message }: { code: ConsoleErrorCode; session: LayoutSession | null; message?: string }) {
  return (
    <Layout title="Not done" session={session}>
      <p class="error" role="alert" data-testid="error" data-code={code}>
        {message ?? CONSOLE_ERROR_MESSAGES[code]} <span class="muted">({code})</span>
      </p>
      <p>
        <a href={session ? "/admin" : "/admin/sign-in"}>{session ? "Back to the overview" : "Sign in"}</a>
      </p>
    </Layout>
  );
}
