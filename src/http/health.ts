import { Hono } from "hono";
import { ConfigError, configProblems } from "../config";
import { reconcileSources } from "../providers";
import type { AppEnv } from "./app-env";
import { configuredCredentials } from "./credentials";

/**
 * GET /healthz (no auth): whether D1, KV and the Queue binding answer, and whether every setting
 * is valid. Says "ok" or "error" per dependency and names each invalid setting with a problem code:
 * no error text, no values (settings include secrets), no data. Any failure: 503 "degraded".
 */
export function healthRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await probe();
        return "ok" as const;
      } catch {
        return "error" as const;
      }
    };
    const [d1, kv, queue, notifyQueue] = await Promise.all([
      check(() => c.env.DB.prepare("SELECT 1").first()),
      check(() => c.env.SEEN_EVENTS.get("healthz")),
      // metrics() reads the queue's backlog without enqueuing anything.
      check(async () => {
        if (typeof c.env.EVENTS_QUEUE?.send !== "function") throw new Error("no queue binding");
        if (typeof c.env.EVENTS_QUEUE.metrics === "function") await c.env.EVENTS_QUEUE.metrics();
      }),
      // Change notifications travel on their own queue: without it they silently stop.
      check(async () => {
        if (typeof c.env.NOTIFY_QUEUE?.send !== "function") throw new Error("no queue binding");
        if (typeof c.env.NOTIFY_QUEUE.metrics === "function") await c.env.NOTIFY_QUEUE.metrics();
      }),
    ]);
    const invalid = invalidSettings(c.env);
    const ok = d1 === "ok" && kv === "ok" && queue === "ok" && notifyQueue === "ok" && invalid.length === 0;
    return c.json(
      { status: ok ? "ok" : "degraded", checks: { d1, kv, queue, notify_queue: notifyQueue }, config: invalid.length ? "invalid" : "ok", invalid_settings: invalid },
      ok ? 200 : 503,
      { "cache-control": "no-store" },
    );
  });
  return app;
}

/** Every invalid setting, each named once per problem: config sections, upstream URLs, tokens. */
function invalidSettings(env: Env): { setting: string; problem: string }[] {
  const problems = [...configProblems(env), ...configuredCredentials(env).problems];
  for (const source of reconcileSources.values()) {
    try {
      source.clientFromEnv(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // ConfigError issues read "<SETTING>: <problem>".
      for (const issue of error.issues) {
        const [setting = "unknown", problem = "invalid"] = issue.split(": ");
        problems.push({ setting, problem });
      }
    }
  }
  const seen = new Set<string>();
  return problems.filter(({ setting, problem }) => !seen.has(`${setting}\n${problem}`) && seen.add(`${setting}\n${problem}`));
}
