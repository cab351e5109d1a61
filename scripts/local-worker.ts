/**
 * A local Worker for load tests: `wrangler dev` on 127.0.0.1 with its own state directory and the
 * development secrets from .dev.vars.example, migrations applied. Used by the HTTP benchmark and
 * the stress test; always stopped by the caller.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

export async function startLocalWorker(options: { port: number; state: string; fresh?: boolean; vars?: Record<string, string> }) {
  if (options.fresh) rmSync(options.state, { recursive: true, force: true });
  const env = { ...process.env, CI: "true" };
  execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", options.state], { stdio: "ignore", env });
  const vars = Object.entries(options.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}:${value}`]);
  const server = spawn(
    "wrangler",
    ["dev", "--ip", "127.0.0.1", "--port", String(options.port), "--persist-to", options.state, "--env-file", ".dev.vars.example", "--log-level", "error", ...vars],
    { stdio: "ignore", detached: true, env },
  );
  const url = `http://127.0.0.1:${options.port}`;
  // Generous: on a loaded two-core machine wrangler dev has taken over a minute to come up.
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      // Stopped here, or the port stays taken by a server nobody will stop.
      try {
        process.kill(-server.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      throw new Error("wrangler dev did not start within 180 s");
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    url,
    /** A SQL query against the running Worker's local D1. */
    query<T>(sql: string): T[] {
      const output = execFileSync("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", options.state, "--json", "--command", sql], { env, encoding: "utf8" });
      return (JSON.parse(output) as { results: T[] }[])[0]?.results ?? [];
    },
    stop() {
      try {
        process.kill(-server.pid!, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}

/** The development Scalekit signing key (raw bytes), from .dev.vars.example. */
export function devSigningKey(): Buffer {
  const secret = /^SCALEKIT_WEBHOOK_SECRET\s*=\s*"?([^"\n\s]*)/m.exec(readFileSync(".dev.vars.example", "utf8"))?.[1];
  if (!secret) throw new Error("no SCALEKIT_WEBHOOK_SECRET in .dev.vars.example");
  return Buffer.from(secret.replace(/^whsec_/, ""), "base64");
}
