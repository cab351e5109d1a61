import type { Child } from "hono/jsx";
import { raw } from "hono/html";

/** The console's pages, for the navigation; `active` marks the current one. */
export type ConsolePage = "overview" | "events" | "dead-letters" | "runs" | "directories" | "imports";

const NAV: { page: ConsolePage; href: string; label: string }[] = [
  { page: "overview", href: "/admin", label: "Overview" },
  { page: "events", href: "/admin/console/events", label: "Event log" },
  { page: "dead-letters", href: "/admin/console/dead-letters", label: "Dead letters" },
  { page: "runs", href: "/admin/console/runs", label: "Reconciliation" },
  { page: "directories", href: "/admin/console/directories", label: "Directories" },
  { page: "imports", href: "/admin/console/imports", label: "Imports" },
];

/** What a finished action says on the page it redirected to (`?notice=<code>`). */
export interface Notice {
  code: string;
  message: string;
}

/**
 * The notice for `?notice=<code>`, only when the code is one the page knows: the page never prints
 * text from the query string, so a crafted link cannot make the console say something it did not.
 */
export function noticeFrom(code: string | undefined | null, messages: Readonly<Record<string, string>>): Notice | null {
  if (!code || !Object.hasOwn(messages, code)) return null;
  return { code, message: messages[code]! };
}

export interface LayoutSession {
  role: "admin" | "viewer";
  csrf: string;
}

export interface LayoutProps {
  title: string;
  /** The signed-in session; null on pages shown before sign-in (sign-in, some error pages). */
  session: LayoutSession | null;
  active?: ConsolePage | null;
  notice?: Notice | null;
  children?: Child;
}

/** Every console page: doctype, head (the Worker's own CSS and script, nothing inline), nav, sign-out. */
export function Layout({ title, session, active = null, notice = null, children }: LayoutProps) {
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="robots" content="noindex, nofollow" />
          <title>{`${title} · directory-sync console`}</title>
          <link rel="stylesheet" href="/admin/assets/console.css" />
          <script src="/admin/assets/console.js" defer></script>
        </head>
        <body>
          <header class="top">
            <span class="brand">directory-sync</span>
            {session ? (
              <nav class="main" aria-label="Console">
                <ul>
                  {NAV.map((item) => (
                    <li>
                      <a href={item.href} aria-current={item.page === active ? "page" : undefined}>
                        {item.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
            ) : null}
            {session ? (
              <div class="who">
                <span data-testid="role">{session.role === "admin" ? "Admin" : "Viewer (read-only)"}</span>
                <form id="sign-out" class="inline" method="post" action="/admin/sign-out">
                  <input type="hidden" name="csrf" value={session.csrf} />
                  <button type="submit">Sign out</button>
                </form>
              </div>
            ) : null}
          </header>
          <main>
            <h1>{title}</h1>
            {notice ? (
              <p role="status" class="notice" data-testid="notice" data-code={notice.code}>
                {notice.message}
              </p>
            ) : null}
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/** A hidden CSRF field, for every state-changing form of a page. */
export function CsrfField({ session }: { session: LayoutSession }) {
  return <input type="hidden" name="csrf" value={session.csrf} />;
}
