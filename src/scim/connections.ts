import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { scimConnections } from "../directory/schema";
import { log } from "../log";

/**
 * SCIM connections: one per identity provider (Okta, Entra ID, …) that provisions straight into
 * this service at `/scim/v2/connections/<id>`, for one organization. Each owns a provider
 * namespace (`scim-<id>`), so its users and groups never share keys with another connection's,
 * a webhook provider's or reconciliation's.
 *
 * Tokens: 32 random bytes, shown once (at creation and at each rotation), stored only as SHA-256
 * hex. A rotation keeps the previous token valid for a grace period so the IdP can be switched
 * over without a gap; a second rotation ends the first one's grace at once (only the current and
 * the one before it are ever live). A disabled connection refuses every token.
 *
 * The only writer of `scim_connections`. Tokens are never logged or stored in plain text.
 */

export type ScimConnection = typeof scimConnections.$inferSelect;

/** Default grace of the previous token after a rotation: 24 hours. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;
/** The longest grace an operator may ask for: 7 days. */
export const MAX_ROTATION_GRACE_MS = 7 * 24 * 60 * 60 * 1000;
/** `last_used_at` is written at most this often per connection, not on every request. */
const LAST_USED_RESOLUTION_MS = 60 * 1000;

const TOKEN_BYTES = 32;
const TOKEN_PREFIX = "scimtok_";
const ID_PREFIX = "scn_";
/** What `createConnection` issues: `scn_` and 24 lowercase hex digits. Anything else is never looked up. */
export const CONNECTION_ID = /^scn_[0-9a-f]{24}$/;

/** The provider namespace a connection's users and groups live under. No ':' (SCIM ids are `provider:external_id`). */
export const connectionProvider = (connectionId: string) => `scim-${connectionId}`;

export interface IssuedToken {
  connection: ScimConnection;
  /** The plaintext token: returned to the operator once, never stored or logged. */
  token: string;
}

/**
 * Creates a connection with a fresh token.
 *
 * @example
 * const { connection, token } = await createConnection(env.DB, { organizationId: "org_123", name: "Okta" }, Date.now());
 */
export async function createConnection(d1: D1Database, input: { organizationId: string; name: string | null }, now: number): Promise<IssuedToken> {
  const id = ID_PREFIX + bytesToHex(crypto.getRandomValues(new Uint8Array(12)));
  const token = newToken();
  const [connection] = await drizzle(d1)
    .insert(scimConnections)
    .values({
      id,
      organizationId: input.organizationId,
      name: input.name,
      provider: connectionProvider(id),
      tokenHash: await tokenHash(token),
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return { connection: connection!, token };
}

export async function getConnection(d1: D1Database, connectionId: string): Promise<ScimConnection | null> {
  if (!CONNECTION_ID.test(connectionId)) return null;
  return (await drizzle(d1).select().from(scimConnections).where(eq(scimConnections.id, connectionId)).get()) ?? null;
}

/** A page in id order (the primary key), after `afterId`, optionally of one organization; disabled connections included. */
export async function listConnections(d1: D1Database, filters: { organizationId?: string }, page: { afterId: string | null; limit: number }): Promise<ScimConnection[]> {
  return drizzle(d1)
    .select()
    .from(scimConnections)
    .where(
      and(
        filters.organizationId === undefined ? undefined : eq(scimConnections.organizationId, filters.organizationId),
        page.afterId === null ? undefined : gt(scimConnections.id, page.afterId),
      ),
    )
    .orderBy(asc(scimConnections.id))
    .limit(page.limit)
    .all();
}

export type RotateResult = { ok: true; issued: IssuedToken } | { ok: false; reason: "not_found" | "connection_disabled" };

/**
 * Issues a new token. The current one becomes the previous one, valid for `graceMs` more (0: it
 * stops working now); a previous token still in its grace is replaced, so it stops working now.
 * One statement, so two concurrent rotations cannot leave three tokens live.
 */
export async function rotateConnectionToken(d1: D1Database, connectionId: string, options: { now: number; graceMs?: number }): Promise<RotateResult> {
  const graceMs = options.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
  if (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) throw new RangeError("graceMs must be an integer from 0 to 7 days");
  const token = newToken();
  const keepPrevious = graceMs > 0;
  const [connection] = await drizzle(d1)
    .update(scimConnections)
    .set({
      // Right-hand sides read the row as it was: the previous hash is the current one before this update.
      previousTokenHash: keepPrevious ? sql`${scimConnections.tokenHash}` : null,
      previousTokenExpiresAt: keepPrevious ? options.now + graceMs : null,
      tokenHash: await tokenHash(token),
      updatedAt: options.now,
    })
    .where(and(eq(scimConnections.id, connectionId), isNull(scimConnections.disabledAt)))
    .returning();
  if (connection) return { ok: true, issued: { connection, token } };
  return { ok: false, reason: (await getConnection(d1, connectionId)) ? "connection_disabled" : "not_found" };
}

/** Disables a connection: every token is refused from now on. Idempotent (the first disable's time stays). */
export async function disableConnection(d1: D1Database, connectionId: string, now: number): Promise<ScimConnection | null> {
  if (!CONNECTION_ID.test(connectionId)) return null;
  await drizzle(d1)
    .update(scimConnections)
    .set({ disabledAt: now, updatedAt: now })
    .where(and(eq(scimConnections.id, connectionId), isNull(scimConnections.disabledAt)));
  return getConnection(d1, connectionId);
}

/** The previous token's expiry while it is still live at `now`, else null. */
export function livePreviousTokenExpiry(connection: ScimConnection, now: number): number | null {
  return connection.previousTokenHash !== null && connection.previousTokenExpiresAt !== null && connection.previousTokenExpiresAt > now
    ? connection.previousTokenExpiresAt
    : null;
}

/**
 * Why a bearer was refused, for logs only: the response is the same 401 whichever it is, so a
 * caller cannot tell an unknown connection from a disabled one or a wrong token.
 */
export type ConnectionAuthFailure = "unknown_connection" | "connection_disabled" | "invalid_token";

export type ConnectionAuthResult =
  | { ok: true; connection: ScimConnection; matched: "current" | "previous" }
  | { ok: false; reason: ConnectionAuthFailure };

/**
 * Whether `bearer` is a live token of connection `connectionId`: its SHA-256 is compared in
 * constant time with the current hash and, during a rotation's grace, the previous one. Both
 * comparisons always run (an unknown connection compares against a dummy hash), so timing does
 * not show which matched.
 *
 * @example
 * const result = await authenticateConnection(env.DB, c.req.param("connectionId"), token, Date.now());
 * if (!result.ok) return unauthorized();
 */
export async function authenticateConnection(d1: D1Database, connectionId: string, bearer: string, now: number = Date.now()): Promise<ConnectionAuthResult> {
  const presented = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(bearer)));
  const connection = await getConnection(d1, connectionId);
  const current = storedHash(connection?.tokenHash);
  const previous = storedHash(connection && livePreviousTokenExpiry(connection, now) !== null ? connection.previousTokenHash : null);
  const matchesCurrent = crypto.subtle.timingSafeEqual(presented, current);
  const matchesPrevious = crypto.subtle.timingSafeEqual(presented, previous);
  if (!connection) return { ok: false, reason: "unknown_connection" };
  if (connection.disabledAt !== null) return { ok: false, reason: "connection_disabled" };
  if (bearer === "" || !(matchesCurrent || matchesPrevious)) return { ok: false, reason: "invalid_token" };
  if (connection.lastUsedAt === null || connection.lastUsedAt <= now - LAST_USED_RESOLUTION_MS) await recordUse(d1, connection.id, now);
  return { ok: true, connection, matched: matchesCurrent ? "current" : "previous" };
}

/** Best effort: a failed write of `last_used_at` never fails the request it belongs to. */
async function recordUse(d1: D1Database, connectionId: string, now: number) {
  try {
    await drizzle(d1).update(scimConnections).set({ lastUsedAt: now }).where(eq(scimConnections.id, connectionId));
  } catch (error) {
    log("scim_connection.last_used_not_recorded", { connectionId, error: String(error) });
  }
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return TOKEN_PREFIX + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function tokenHash(token: string): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/** 32 bytes that no token hashes to in practice: compared against when there is no hash to compare. */
const NO_HASH = new Uint8Array(32);

function storedHash(hex: string | null | undefined): Uint8Array {
  if (!hex || !/^[0-9a-f]{64}$/.test(hex)) return NO_HASH;
  return hexToBytes(hex);
}

/** What an identity provider is given as the SCIM base URL (tenant URL) of a connection. */
export const connectionBaseUrl = (origin: string, connectionId: string) => `${origin}/scim/v2/connections/${connectionId}`;
