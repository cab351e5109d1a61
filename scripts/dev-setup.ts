/**
 * Runs before `npm start`: gives a fresh clone working development secrets and a migrated local
 * D1, so `npm install && npm start` is all a newcomer types.
 */
import { copyFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (development-only secrets).");
}
execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit", env: { ...process.env, CI: "true" } });
