/** Reads one variable from .dev.vars (created by `npm start` from .dev.vars.example). */
import { existsSync, readFileSync } from "node:fs";

export function devVar(name: string): string | null {
  if (!existsSync(".dev.vars")) return null;
  const match = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)"?`, "m").exec(readFileSync(".dev.vars", "utf8"));
  return match?.[1]?.trim() || null;
}
