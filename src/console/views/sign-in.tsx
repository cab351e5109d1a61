import { Layout } from "./layout";

export type SignInError = "invalid_token" | "insufficient_scope" | "csrf_invalid" | "rate_limited";

const MESSAGES: Record<SignInError, string> = {
  invalid_token: "That token is not valid here.",
  insufficient_scope: "This read token is limited to one organization, and the console shows every tenant. Sign in with an admin token or an unscoped read token.",
  csrf_invalid: "The sign-in form could not be verified (it was sent from another site, or the page is too old). Try again.",
  rate_limited: "Too many sign-in attempts from this address. Wait a minute, then try again.",
};

/**
 * The sign-in form. `formToken` pairs with the pre-session cookie set with the page (login CSRF:
 * src/http/console/csrf.ts); the token field is a password field so browsers neither show nor
 * autofill it into other sites.
 */
export function SignInPage({ formToken, error }: { formToken: string; error: SignInError | null }) {
  return (
    <Layout title="Sign in" session={null}>
      {error ? (
        <p class="error" role="alert" data-testid="error" data-code={error}>
          {MESSAGES[error]} <span class="muted">({error})</span>
        </p>
      ) : null}
      <form id="sign-in" class="sign-in" method="post" action="/admin/sign-in">
        <input type="hidden" name="csrf" value={formToken} />
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required />
        <p class="hint">
          An admin token (ADMIN_TOKEN) may do everything; an unscoped read token (READ_TOKENS) sees every page and changes nothing. The session lasts one hour.
        </p>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </Layout>
  );
}
