import { Hono } from "hono";
import * as z from "zod";
import { ImportDetailPage, ImportsPage } from "../../console/views/imports";
import { getImport, listImports, refreshImports, storedErrors } from "../../import/record";
import { cursorOf, encodeCursor } from "../opaque-cursor";
import { consoleErrorPage, renderPage } from "./render";
import type { ConsoleEnv } from "./session";

/**
 * The console's bulk import pages, under /admin/console/imports (mounted by index.tsx behind the
 * session and CSRF middleware). Read-only: importing is POST /admin/import or `npm run import`.
 * - GET /imports        newest first, counts as last refreshed (?cursor)
 * - GET /imports/:id    one import's report, refreshed from the event log, with its per-line errors
 */

const IMPORTS_PER_PAGE = 50;

const listQuery = z.object({
  cursor: z.preprocess((value) => (value === "" ? undefined : value), cursorOf(z.tuple([z.number().int(), z.string().max(64)])).optional()),
});

export function consoleImportRoutes() {
  const app = new Hono<ConsoleEnv>();

  app.get("/", async (c) => {
    const query = listQuery.safeParse(c.req.query());
    if (!query.success) return consoleErrorPage(c, 400, "invalid_query");
    const rows = await listImports(c.env.DB, { after: query.data.cursor ?? null, limit: IMPORTS_PER_PAGE + 1 });
    const page = rows.slice(0, IMPORTS_PER_PAGE);
    const last = page.at(-1);
    const nextHref = rows.length > IMPORTS_PER_PAGE && last ? `/admin/console/imports?cursor=${encodeCursor([last.createdAt, last.id])}` : null;
    return renderPage(c, <ImportsPage session={c.get("console")} imports={page} nextHref={nextHref} continued={query.data.cursor !== undefined} />);
  });

  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    if (!(await getImport(c.env.DB, id))) return consoleErrorPage(c, 404, "not_found");
    await refreshImports(c.env.DB, [id], c.get("now")());
    const record = await getImport(c.env.DB, id);
    if (!record) return consoleErrorPage(c, 404, "not_found");
    return renderPage(c, <ImportDetailPage session={c.get("console")} record={record} errors={storedErrors(record)} />);
  });
  return app;
}
