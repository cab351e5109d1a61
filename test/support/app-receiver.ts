/**
 * A stand-in for the application that receives change notifications: a real HTTP server on
 * 127.0.0.1 that verifies every delivery independently of our code, with the Standard Webhooks
 * reference library for v1 (`standardwebhooks`) and node:crypto for v1a (the reference JS library
 * has no v1a), and answers as each test scripts it.
 *
 * Tenants keep test files apart: `/t/<tenant>/hook` receives, `/t/<tenant>/__control` steers:
 * - PUT  `{ verifyWith: "whsec_…" | "whpk_…", rules?: Rule[] }` resets the tenant;
 * - GET  returns `{ received: Received[] }`, every request in arrival order.
 *
 * Runs in Node, never in workerd: started by vitest.config.ts.
 */
import express from "express";
import { createPublicKey, verify } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/**
 * How to answer: the first rule that matches the delivery and has tries left answers it (and uses
 * one). Without `times` a rule never runs out. No rule: 204.
 */
export interface Rule {
  status: number;
  times?: number;
  match?: { subject?: string; type?: string; seq?: number };
  /** Sent as Retry-After. */
  retryAfter?: string;
  /** Answer only after this long (to outlast the sender's timeout). */
  delayMs?: number;
}

export interface Received {
  webhookId: string | null;
  timestamp: string | null;
  signature: string | null;
  userAgent: string | null;
  contentType: string | null;
  /** The parsed JSON body (null if it was not JSON). */
  body: { type?: string; seq?: number; subject?: string; [key: string]: unknown } | null;
  /** Whether the signature verified with the tenant's verifyWith key (reference library / node:crypto). */
  verified: boolean;
  /** What this server answered. */
  answered: number;
}

interface Tenant {
  verifyWith: string;
  rules: Rule[];
  received: Received[];
}

const TOLERANCE_SECONDS = 5 * 60;

function verifies(verifyWith: string, raw: string, headers: Record<string, string | undefined>): boolean {
  if (verifyWith.startsWith("whsec_")) {
    try {
      new Webhook(verifyWith).verify(raw, headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  }
  if (!verifyWith.startsWith("whpk_")) return false;
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signature = headers["webhook-signature"];
  if (!id || !timestamp || !signature) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(verifyWith.slice(5), "base64").toString("base64url") }, format: "jwk" });
  const content = Buffer.from(`${id}.${timestamp}.${raw}`, "utf8");
  return signature.split(" ").some((token) => {
    const [version, value] = token.split(",");
    return version === "v1a" && value !== undefined && verify(null, content, publicKey, Buffer.from(value, "base64"));
  });
}

export function createAppReceiver() {
  const tenants = new Map<string, Tenant>();
  const app = express();

  app.put("/t/:tenant/__control", express.json(), (request, response) => {
    const { verifyWith, rules } = request.body as { verifyWith?: string; rules?: Rule[] };
    if (typeof verifyWith !== "string") return void response.status(400).json({ error: "verifyWith required" });
    tenants.set(String(request.params.tenant), { verifyWith, rules: rules ?? [], received: [] });
    response.status(204).end();
  });

  app.get("/t/:tenant/__control", (request, response) => {
    const tenant = tenants.get(String(request.params.tenant));
    if (!tenant) return void response.status(404).json({ error: "no such tenant" });
    response.json({ received: tenant.received });
  });

  app.post("/t/:tenant/hook", express.raw({ type: () => true, limit: "1mb" }), (request, response) => {
    const tenant = tenants.get(String(request.params.tenant));
    if (!tenant) return void response.status(404).end();
    const raw = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "";
    const header = (name: string) => (typeof request.headers[name] === "string" ? (request.headers[name] as string) : null);
    let body: Received["body"] = null;
    try {
      body = JSON.parse(raw) as Received["body"];
    } catch {
      // recorded as null
    }
    const headers = { "webhook-id": header("webhook-id") ?? undefined, "webhook-timestamp": header("webhook-timestamp") ?? undefined, "webhook-signature": header("webhook-signature") ?? undefined };
    const rule = tenant.rules.find(
      (candidate) =>
        (candidate.times === undefined || candidate.times > 0) &&
        (candidate.match?.subject === undefined || candidate.match.subject === body?.subject) &&
        (candidate.match?.type === undefined || candidate.match.type === body?.type) &&
        (candidate.match?.seq === undefined || candidate.match.seq === body?.seq),
    );
    if (rule?.times !== undefined) rule.times--;
    const answered = rule?.status ?? 204;
    tenant.received.push({
      webhookId: header("webhook-id"),
      timestamp: header("webhook-timestamp"),
      signature: header("webhook-signature"),
      userAgent: header("user-agent"),
      contentType: header("content-type"),
      body,
      verified: verifies(tenant.verifyWith, raw, headers),
      answered,
    });
    if (rule?.retryAfter) response.setHeader("retry-after", rule.retryAfter);
    if (rule?.delayMs) setTimeout(() => response.status(answered).end(), rule.delayMs);
    else response.status(answered).end();
  });

  return app;
}

/** Starts the receiver on 127.0.0.1; `keepAlive: false` (tests) lets the process exit around it. */
export async function startAppReceiver(port = 0, options: { keepAlive?: boolean } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createAppReceiver();
  return new Promise((resolve) => {
    const server = app.listen(port, "127.0.0.1", () => {
      const address = server.address() as AddressInfo;
      if (!options.keepAlive) server.unref();
      resolve({ url: `http://127.0.0.1:${address.port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
