import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { foldCase } from "../../src/directory/fold";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { ADMIN } from "../support/seed";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
const t = Date.parse("2026-05-01T00:00:00Z");

/** Stored emails (Scalekit sends no userName, so userName is the email). */
const EMAILS: Record<string, string> = {
  elodie: "élodie@exemple.fr",
  strasse1: "straße@exemple.de",
  strasse2: "STRASSE@EXEMPLE.DE",
  istanbul: "İstanbul@example.tr",
  plain: "istanbul@example.tr",
  ligature: "ﬁle@example.com",
};

const user = (externalId: string, email: string, firstName: string | null = null, lastName: string | null = null): DirectoryEvent => {
  const event = events.userUpserted(externalId, t, { email, firstName });
  return { ...event, user: { ...(event as { user: object }).user, lastName } } as DirectoryEvent;
};

const scimIds = async (resource: string, filter: string) => {
  const response = await callApp(new Request(`${BASE}/scim/v2/${resource}?filter=${encodeURIComponent(filter)}`, { headers: ADMIN }));
  expect(response.status, filter).toBe(200);
  return ((await response.json()) as { Resources: { id: string }[] }).Resources.map((resource) => resource.id.replace("scalekit:", "")).sort();
};

describe("case folding: stored keys and queries fold alike (directory/fold.ts)", () => {
  beforeAll(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets;");
    const batch = [
      ...Object.entries(EMAILS).map(([id, email]) => user(id, email, id === "elodie" ? "Élodie" : "Someone", id === "elodie" ? "Straße" : "Else")),
      user("ABCdef", "upper@example.com"),
      user("abcxyz", "lower@example.com"),
      user("pct%_x", "meta@example.com"),
      events.groupUpserted("grp_equipe", t, "Équipe"),
      events.groupUpserted("grp_other", t, "equipe-b"),
    ];
    const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
    if (result.retryMessages.length) throw new Error("seeding failed");
  });

  it('userName eq "ÉLODIE@exemple.fr" finds the stored "élodie@exemple.fr" (SQLite lower() alone misses it)', async () => {
    expect(await scimIds("Users", 'userName eq "ÉLODIE@exemple.fr"')).toEqual(["elodie"]);
    // Decomposed é (e + U+0301) is the same user after NFC.
    expect(await scimIds("Users", 'userName eq "E\u0301LODIE@EXEMPLE.FR"')).toEqual(["elodie"]);
    expect(await scimIds("Users", 'emails.value sw "ÉLO"')).toEqual(["elodie"]);
  });

  const literals = ["ÉLODIE@EXEMPLE.FR", "straße@exemple.de", "STRASSE@exemple.de", "Strasse@Exemple.De", "İSTANBUL@EXAMPLE.TR", "istanbul@example.tr", "FILE@example.com", "ﬁle@example.com"];

  it.each(literals)("userName eq %j matches exactly the users whose folded email equals its folding", async (literal) => {
    const expected = Object.entries(EMAILS)
      .filter(([, email]) => foldCase(email) === foldCase(literal))
      .map(([id]) => id)
      .sort();
    expect(await scimIds("Users", `userName eq "${literal}"`)).toEqual(expected);
    expect(await scimIds("Users", `emails[value eq "${literal}"]`)).toEqual(expected);
  });

  it('"straße" and "STRASSE" are one key: eq, sw, co and ew all agree', async () => {
    expect(await scimIds("Users", 'userName eq "STRASSE@EXEMPLE.DE"')).toEqual(["strasse1", "strasse2"]);
    expect(await scimIds("Users", 'userName sw "STRAß"')).toEqual(["strasse1", "strasse2"]);
    expect(await scimIds("Users", 'userName co "asse@"')).toEqual(["strasse1", "strasse2"]);
    expect(await scimIds("Users", 'userName ew "SSE@EXEMPLE.DE"')).toEqual(["strasse1", "strasse2"]);
    expect(await scimIds("Users", 'name.familyName eq "STRASSE"')).toEqual(["elodie"]);
    expect(await scimIds("Users", 'displayName eq "ÉLODIE STRASSE"')).toEqual(["elodie"]);
    expect(await scimIds("Users", 'name.givenName eq "élodie"')).toEqual(["elodie"]);
  });

  it("case-exact attributes compare exactly: externalId sw/co/ew never ignore case", async () => {
    expect(await scimIds("Users", 'externalId sw "abc"')).toEqual(["abcxyz"]);
    expect(await scimIds("Users", 'externalId sw "ABC"')).toEqual(["ABCdef"]);
    expect(await scimIds("Users", 'externalId co "CDE"')).toEqual([]);
    expect(await scimIds("Users", 'externalId ew "DEF"')).toEqual([]);
    expect(await scimIds("Users", 'externalId ew "def"')).toEqual(["ABCdef"]);
    expect(await scimIds("Users", 'externalId eq "abcdef"')).toEqual([]);
  });

  it("% and _ in a value are literal characters, never wildcards", async () => {
    expect(await scimIds("Users", 'externalId co "%_"')).toEqual(["pct%_x"]);
    expect(await scimIds("Users", 'externalId sw "_"')).toEqual([]);
    expect(await scimIds("Users", 'userName co "%"')).toEqual([]);
  });

  it("group displayName folds too", async () => {
    expect(await scimIds("Groups", 'displayName eq "ÉQUIPE"')).toEqual(["grp_equipe"]);
    expect(await scimIds("Groups", 'displayName sw "équipe"')).toEqual(["grp_equipe"]);
    expect(await scimIds("Groups", 'displayName sw "EQUIPE"')).toEqual(["grp_other"]);
  });

  it("/v1/users?email= folds the same way", async () => {
    const response = await callApp(new Request(`${BASE}/v1/users?email=${encodeURIComponent("ÉLODIE@EXEMPLE.FR")}`, { headers: ADMIN }));
    expect(((await response.json()) as { users: { external_id: string }[] }).users.map((u) => u.external_id)).toEqual(["elodie"]);
    const strasse = await callApp(new Request(`${BASE}/v1/users?email=${encodeURIComponent("strasse@exemple.de")}`, { headers: ADMIN }));
    expect(((await strasse.json()) as { users: { external_id: string }[] }).users.map((u) => u.external_id)).toEqual(["strasse1", "strasse2"]);
  });
});
