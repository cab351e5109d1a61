/**
 * The paths under /admin that belong to the console (HTML, session cookie) rather than the JSON
 * admin API (bearer token). Route walks in the tests use this to tell the two apart.
 */
export const CONSOLE_PATHS = ["/", "/sign-in", "/sign-out", "/assets/*", "/console", "/console/*"] as const;

export function isConsolePath(path: string): boolean {
  return (
    path === "/admin" ||
    path === "/admin/sign-in" ||
    path === "/admin/sign-out" ||
    path.startsWith("/admin/assets/") ||
    path === "/admin/console" ||
    path.startsWith("/admin/console/")
  );
}
