import { ConfigError, configProblems } from "../config";
import { configuredCredentials } from "../http/credentials";
import { reconcileSources } from "../providers";
import { firstupScimClient } from "../providers/firstup/upstream";
import { ScimRequestError } from "../providers/firstup/scim-client";
import { ScalekitApiError, scalekitDirectoryApiFromEnv } from "../providers/scalekit/directory-api";

/**
 * Health checks shared by GET /healthz and the console's overview. Each says "ok" or "error" (or,
 * for an upstream, why not), never error text or values: settings include secrets, upstream errors
 * can carry URLs.
 */

export type CheckResult = "ok" | "error";

export interface BindingChecks {
  d1: CheckResult;
  kv: CheckResult;
  queue: CheckResult;
  notify_queue: CheckResult;
}

async function check(probe: () => Promise<unknown>): Promise<CheckResult> {
  try {
    await probe();
    return "ok";
  } catch {
    return "error";
  }
}

/** Whether D1, KV and both Queue bindings answer. Nothing is written or enqueued. */
export async function bindingChecks(env: Env): Promise<BindingChecks> {
  const [d1, kv, queue, notifyQueue] = await Promise.all([
    check(() => env.DB.prepare("SELECT 1").first()),
    check(() => env.SEEN_EVENTS.get("healthz")),
    // metrics() reads the queue's backlog without enqueuing anything.
    check(async () => {
      if (typeof env.EVENTS_QUEUE?.send !== "function") throw new Error("no queue binding");
      if (typeof env.EVENTS_QUEUE.metrics === "function") await env.EVENTS_QUEUE.metrics();
    }),
    // Change notifications travel on their own queue: without it they silently stop.
    check(async () => {
      if (typeof env.NOTIFY_QUEUE?.send !== "function") throw new Error("no queue binding");
      if (typeof env.NOTIFY_QUEUE.metrics === "function") await env.NOTIFY_QUEUE.metrics();
    }),
  ]);
  return { d1, kv, queue, notify_queue: notifyQueue };
}

/** Every invalid setting, each named once per problem: config sections, upstream URLs, tokens. */
export function invalidSettings(env: Env): { setting: string; problem: string }[] {
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

export interface UpstreamCheck {
  provider: string;
  /** not_configured: no settings; misconfigured: a setting is invalid; ok / error: what one cheap request said. */
  status: "not_configured" | "misconfigured" | "ok" | "error";
  /** A stable code for "misconfigured" (the setting's problem) and "error" (the failure's kind, or `timeout`). */
  code: string | null;
}

/** One upstream request at most, no retries: a probe must not hold the page or spend the upstream's rate limit. */
export const UPSTREAM_PROBE_TIMEOUT_MS = 3_000;
const PROBE_OPTIONS = { timeoutMs: UPSTREAM_PROBE_TIMEOUT_MS, maxAttempts: 1, maxWaitMs: 0 };

/**
 * How long a probe's answer (ok or error) is reused within an isolate: however often the overview
 * is loaded or refreshed, each upstream gets at most one probe per isolate in this time, so viewers
 * cannot spend its rate limit. Error answers are reused too: an upstream that answers 429 is the
 * one not to ask again at once.
 */
export const UPSTREAM_PROBE_CACHE_MS = 30_000;

/**
 * The cheapest authenticated read of each upstream: a one-user SCIM page (Firstup), one
 * organization (Scalekit, after its token request), and the settings it reads (the cache key: a
 * changed URL or token is probed afresh). A provider without a probe here shows "ok" once its
 * settings parse (configuration only, nothing to cache).
 */
const probes: Record<string, { settings: (keyof Env)[]; probe: (env: Env) => (() => Promise<unknown>) | null }> = {
  firstup: {
    settings: ["FIRSTUP_SCIM_URL", "FIRSTUP_SCIM_TOKEN"],
    probe: (env) => {
      const client = firstupScimClient(env, PROBE_OPTIONS);
      return client ? () => client.countUsers() : null;
    },
  },
  scalekit: {
    settings: ["SCALEKIT_ENVIRONMENT_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"],
    probe: (env) => {
      const api = scalekitDirectoryApiFromEnv(env, PROBE_OPTIONS);
      return api ? () => api.listOrganizations({ pageSize: 1 }) : null;
    },
  },
};

export interface UpstreamCheckOptions {
  /** The whole probe's bound (the client's own timeout plus a margin). */
  timeoutMs?: number;
  /** The request's clock (epoch ms), for the cache's expiry. */
  now?: number;
  /** How long an answer is reused; 0: never. */
  cacheMs?: number;
}

/** Per isolate, by provider and a hash of its settings (no secret is kept as a key). */
const probeCache = new Map<string, { check: UpstreamCheck; checkedAt: number }>();
const PROBE_CACHE_LIMIT = 16;

/** Every provider with an upstream (a reconciliation source), probed in parallel (or answered from the cache). */
export async function upstreamChecks(env: Env, options: UpstreamCheckOptions = {}): Promise<UpstreamCheck[]> {
  const { timeoutMs = UPSTREAM_PROBE_TIMEOUT_MS + 1_000, now = Date.now(), cacheMs = UPSTREAM_PROBE_CACHE_MS } = options;
  return Promise.all(
    [...reconcileSources.values()].map(async (source): Promise<UpstreamCheck> => {
      const provider = source.provider;
      let probe: (() => Promise<unknown>) | null;
      try {
        const configured = source.clientFromEnv(env) !== null;
        probe = configured ? (probes[provider]?.probe(env) ?? null) : null;
        if (configured && !probe) return { provider, status: "ok", code: null };
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return { provider, status: "misconfigured", code: error.issues[0]?.split(": ")[1] ?? "invalid" };
      }
      if (!probe) return { provider, status: "not_configured", code: null };

      const key = cacheMs > 0 ? await cacheKey(env, provider) : null;
      const cached = key ? probeCache.get(key) : undefined;
      // Fresh only from its own time onwards: a clock that went back (an injected one) probes again.
      if (cached && now >= cached.checkedAt && now - cached.checkedAt < cacheMs) return cached.check;
      let check: UpstreamCheck;
      try {
        await withTimeout(probe(), timeoutMs);
        check = { provider, status: "ok", code: null };
      } catch (error) {
        check = { provider, status: "error", code: failureCode(error) };
      }
      if (key) {
        if (probeCache.size >= PROBE_CACHE_LIMIT) probeCache.clear();
        probeCache.set(key, { check, checkedAt: now });
      }
      return check;
    }),
  );
}

async function cacheKey(env: Env, provider: string): Promise<string> {
  const values = (probes[provider]?.settings ?? []).map((name) => String(env[name] ?? ""));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify([provider, ...values])));
  return `${provider}:${[...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

function failureCode(error: unknown): string {
  if (error instanceof ProbeTimeout) return "timeout";
  if (error instanceof ScimRequestError) return `scim_${error.kind}`;
  if (error instanceof ScalekitApiError) return error.code;
  return "unreachable";
}

class ProbeTimeout extends Error {}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ProbeTimeout()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
