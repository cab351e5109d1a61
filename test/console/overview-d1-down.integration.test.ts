import { describe, expect, it } from "vitest";
import { signInConsole } from "../support/console";

/**
 * An operator opens the overview when something is wrong, D1 included: the page must still render,
 * say that D1 errs, and mark the panels it could not read, rather than answer a 500.
 */
const d1Down = new Proxy({} as D1Database, {
  get() {
    return () => {
      throw new Error("D1_ERROR: the database is unavailable");
    };
  },
});

describe("the overview with D1 down", () => {
  it("answers 200: health says D1 errs, each D1 panel says unavailable, nothing else breaks", async () => {
    const admin = await signInConsole({ overrides: { DB: d1Down } });
    const response = await admin.get("/admin");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/<tr data-check="d1"><th scope="row">D1 database<\/th><td class="status-error"/);
    // The chart, dead letters, last runs and notifications: four panels that read D1.
    expect(html.match(/data-state="unavailable"/g)).toHaveLength(4);
    expect(html).not.toContain("D1_ERROR");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});
