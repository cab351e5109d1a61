import type * as z from "zod";

/** Paths and codes only: zod issues can echo input values, which may be personal data. */
export function describeIssues(error: z.ZodError, prefix?: string): string[] {
  return error.issues.slice(0, 10).map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    return `${path || "(body)"}: ${issue.code}`;
  });
}
