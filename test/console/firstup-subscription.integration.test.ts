import { describe, expect, it } from "vitest";
import { decodeHtml, rowsOf } from "../support/console-html";
import { CONSOLE_BASE, signInConsole } from "../support/console";
import { firstupProgram, USER_EVENTS, WEBHOOKS_READ_TOKEN } from "../support/firstup-api";

/**
 * The overview's Firstup subscription panel (`data-testid="firstup-subscription"`) through the
 * real app, checking the Firstup emulator for this Worker's own URL (the console's origin +
 * /webhooks/firstup).
 */

const HERE = `${CONSOLE_BASE}/webhooks/firstup`;

async function panelOf(overrides: Partial<Env>) {
  const admin = await signInConsole({ overrides });
  const html = await (await admin.get("/admin")).text();
  const panel = /<section[^>]*data-testid="firstup-subscription"[^>]*>([\s\S]*?)<\/section>/.exec(html)?.[1];
  if (panel === undefined) throw new Error("no firstup-subscription panel on the overview");
  const status = /<span[^>]*data-testid="status"[^>]*data-state="([^"]*)"(?:[^>]*data-reason="([^"]*)")?[^>]*>([\s\S]*?)<\/span>/.exec(panel);
  return {
    panel,
    state: status?.[1] ?? null,
    reason: status?.[2] ?? null,
    text: decodeHtml(status?.[3]?.trim() ?? ""),
    problems: [...panel.matchAll(/data-testid="firstup-problem" data-code="([^"]*)"/g)].map((match) => match[1]),
    rows: rowsOf(panel, "subscription-row"),
  };
}

describe("the overview's Firstup subscription panel", () => {
  it("says ok, and lists the subscription, when Firstup delivers the user events to this Worker", async () => {
    const program = firstupProgram("console-firstup-ok");
    await program.reset({ subscriptions: [{ id: "sub_ok", name: "directory-sync", url: HERE, active: true, events: USER_EVENTS }] });
    const panel = await panelOf({ FIRSTUP_API_URL: program.api, FIRSTUP_API_TOKEN: WEBHOOKS_READ_TOKEN });
    expect(panel.state).toBe("ok");
    expect(panel.problems).toEqual([]);
    expect(panel.rows.map((row) => row.attributes["data-id"])).toEqual(["sub_ok"]);
    expect(decodeHtml(panel.panel)).toContain(`Expected: ${HERE}`);
  });

  it("flags an inactive subscription and one pointing elsewhere, with the command that fixes it", async () => {
    const program = firstupProgram("console-firstup-problems");
    await program.reset({
      subscriptions: [
        { id: "sub_off", url: HERE, active: false, events: USER_EVENTS, authorization_header: "Bearer never-shown" },
        { id: "sub_old", url: "https://old.example.com/webhooks/firstup", active: true, events: USER_EVENTS },
      ],
    });
    const panel = await panelOf({ FIRSTUP_API_URL: program.api, FIRSTUP_API_TOKEN: WEBHOOKS_READ_TOKEN });
    expect(panel.state).toBe("problems");
    expect(panel.problems).toEqual(["not_subscribed", "inactive", "elsewhere"]);
    expect(decodeHtml(panel.panel)).toContain(`npm run firstup:subscribe -- --url ${HERE}`);
    expect(panel.panel).not.toContain("never-shown");
    expect(panel.panel).not.toContain(WEBHOOKS_READ_TOKEN);
  });

  it("says not configured without FIRSTUP_API_TOKEN (the test bindings carry none)", async () => {
    const panel = await panelOf({});
    expect([panel.state, panel.reason]).toEqual(["not_configured", "no_token"]);
    expect(panel.text).toContain("FIRSTUP_API_TOKEN");
  });

  it("says unauthorized when Firstup refuses the token, and the page still renders", async () => {
    const program = firstupProgram("console-firstup-refused");
    await program.reset();
    const panel = await panelOf({ FIRSTUP_API_URL: program.api, FIRSTUP_API_TOKEN: "expired-token" });
    expect([panel.state, panel.reason]).toEqual(["unauthorized", "unauthorized"]);
  });
});
