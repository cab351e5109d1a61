import * as z from "zod";
import type { DedupeMode } from "./ingest/fast-path";
import { parseSigningSecret } from "./notify/sign";
import { apiUrlFromScimUrl } from "./providers/firstup/subscriptions";
import { isHttpsOrLoopback } from "./url-policy";

/**
 * Configuration, validated where it is used, one section per part of the Worker. A mistake in one
 * section stops only the part that reads it: an invalid read-side ROLE_MAPPING cannot stop ingest
 * or the consumers, and the dead-letter consumer reads no configuration at all. `/healthz` names
 * every invalid setting (configProblems).
 */

/** Hard ceiling on webhook bodies. The spec recommends payloads under 20 kB. */
export const BODY_LIMIT_CEILING_BYTES = 1024 * 1024;

/**
 * Ceiling on NOTIFY_MAX_ATTEMPTS: failed tries are Queue retries, so the notifications consumer's
 * max_retries in wrangler.toml must stay above it (a crash also spends one).
 */
export const MAX_NOTIFY_ATTEMPTS = 20;

/**
 * The floor of RETENTION_DAYS. The event log's ids are the exactly-once authority, so an id may be
 * pruned only once no copy of its event can still arrive: a queued message lives at most 14 days
 * (Cloudflare Queues' maximum message retention; every retry and every dead-letter replay is a copy
 * of it). A provider's automatic retries come within its own schedule (Svix-style senders retry
 * for about a day); each attempt is signed afresh, so the signature tolerance does not bound them,
 * and a manual resend from the provider's dashboard reuses the event id at any time. So no floor
 * stops every late copy. What keeps one harmless is the version guard: every write applies only
 * over older state, so a copy arriving after its id was pruned re-applies nothing newer (it costs
 * the work, and records nothing in the change feed: test/retention/event-log.integration.test.ts).
 */
export const QUEUE_MAX_RETENTION_DAYS = 14;
export const MAX_WEBHOOK_TOLERANCE_SECONDS = 3600;
export const MIN_RETENTION_DAYS = QUEUE_MAX_RETENTION_DAYS + Math.ceil(MAX_WEBHOOK_TOLERANCE_SECONDS / 86_400);

/** The dead-letter queue's name when DEAD_LETTER_QUEUE is unset (wrangler.toml's). */
export const DEFAULT_DEAD_LETTER_QUEUE = "directory-events-dlq";

/**
 * ROLE_MAPPING: a list of entries, each scoped to one provider and organization (and optionally a
 * directory), matching a group by its external id, or by its exact name as an explicit
 * per-organization opt-in. `{}` (the old empty default) reads as an empty list; an old-style global
 * name map is invalid, because it let any customer's group called "Admins" grant admin.
 */
const roleMappingEntry = z
  .strictObject({
    provider: z.string().min(1).max(64),
    organization_id: z.string().min(1).max(1024),
    directory_id: z.string().min(1).max(1024).optional(),
    group_id: z.string().min(1).max(256).optional(),
    group_name: z.string().min(1).max(1024).optional(),
    roles: z.array(z.string().min(1).max(128)).min(1).max(50),
  })
  .refine((entry) => (entry.group_id === undefined) !== (entry.group_name === undefined), { message: "exactly one of group_id and group_name" })
  .transform(
    (entry): RoleMappingEntry => ({
      provider: entry.provider,
      organizationId: entry.organization_id,
      directoryId: entry.directory_id ?? null,
      group: entry.group_id !== undefined ? { id: entry.group_id } : { name: entry.group_name! },
      roles: entry.roles,
    }),
  );
const roleMapping = z.union([z.array(roleMappingEntry).max(1000), z.strictObject({}).transform((): RoleMappingEntry[] => [])]);

export interface RoleMappingEntry {
  provider: string;
  organizationId: string;
  /** null: any directory of the organization. */
  directoryId: string | null;
  /** By external id, or (opt-in) by exact group name. */
  group: { id: string } | { name: string };
  roles: string[];
}

/** A JSON-valued variable, parsed then validated by `schema`. */
export function jsonVariable<T extends z.ZodType>(schema: T, fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const sections = {
  ingest: z.object({
    WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(MAX_WEBHOOK_TOLERANCE_SECONDS).default(300),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(BODY_LIMIT_CEILING_BYTES).default(BODY_LIMIT_CEILING_BYTES),
    DEDUPE_TTL_SECONDS: z.coerce.number().int().min(60).default(7 * 24 * 3600),
    // "on" is the old name of "kv", kept so existing deployments keep their behaviour.
    DEDUPE_KV: z
      .enum(["cache", "kv", "off", "on"])
      .default("cache")
      .transform((mode): DedupeMode => (mode === "on" ? "kv" : mode)),
  }),
  consumer: z.object({
    RETRY_BASE_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
    DESTRUCTIVE_GUARD_WINDOW_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
    DESTRUCTIVE_GUARD_MIN: z.coerce.number().int().min(0).default(20),
    DESTRUCTIVE_GUARD_MAX_SHARE: z.coerce.number().min(0).max(1).default(0.05),
    ABSENCE_CONFIRM_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    UPSTREAM_CONFIRM_BUDGET_SECONDS: z.coerce.number().int().min(0).max(24 * 3600).default(900),
    UPSTREAM_MAX_REQUESTS_PER_SECOND: z.coerce.number().int().min(1).max(1000).default(10),
  }),
  reconcile: z.object({
    RECONCILE_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    RECONCILE_PAGES_PER_MESSAGE: z.coerce.number().int().min(1).max(40).default(5),
    RECONCILE_MAX_PAGES: z.coerce.number().int().min(1).default(5000),
    RECONCILE_MAX_REMOVAL_SHARE: z.coerce.number().min(0).max(1).default(0.1),
  }),
  read: z.object({
    ROLE_MAPPING: jsonVariable(roleMapping, "[]"),
  }),
  feed: z.object({
    // Days the change feed keeps changes (GET /v1/changes; older cursors answer cursor_expired).
    CHANGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  }),
  retention: z.object({
    // Days event-derived records are kept (src/retention): replayed dead letters, and the event log.
    RETENTION_DAYS: z.coerce.number().int().min(MIN_RETENTION_DAYS).max(3650).default(30),
    // Days finished reconciliation reports are kept; the newest of each provider and scope stays.
    RUN_REPORT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  }),
  firstupApi: z.object({
    // Firstup's API base for /v2/webhooks/subscriptions (the console's subscription status).
    FIRSTUP_API_URL: z.string().trim().default("").refine((text) => text === "" || isHttpsOrLoopback(text), { message: "https URL (http only for 127.0.0.1, localhost, [::1])" }),
  }),
  notify: z
    .object({
      APP_WEBHOOK_URL: z.string().trim().default("").refine((text) => text === "" || isHttpsOrLoopback(text), { message: "https URL (http only for 127.0.0.1, localhost, [::1])" }),
      APP_WEBHOOK_SECRET: z.string().trim().default("").refine((secret) => secret === "" || parseSigningSecret(secret) !== null, { message: "whsec_ or whsk_ secret" }),
      NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(MAX_NOTIFY_ATTEMPTS).default(8),
      NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(1000).max(30_000).default(10_000),
    })
    .superRefine((vars, context) => {
      // An unsigned notification would teach the app to accept anything.
      if (vars.APP_WEBHOOK_URL && !vars.APP_WEBHOOK_SECRET) context.addIssue({ code: "custom", path: ["APP_WEBHOOK_SECRET"], message: "required with APP_WEBHOOK_URL" });
    }),
};
type Section = keyof typeof sections;

export type IngestConfig = {
  toleranceSeconds: number;
  maxBodyBytes: number;
  dedupeTtlSeconds: number;
  /** The dedupe fast path at ingress (src/ingest/fast-path); D1 is the exactly-once authority in every mode. */
  dedupe: DedupeMode;
};

export type ConsumerConfig = {
  retryBaseSeconds: number;
  /** Erasures and deactivations from webhooks: at most max(min, maxShare × directory) per window. */
  destructiveGuard: { windowMs: number; min: number; maxShare: number };
  /** A SCIM 404 must be seen twice, this far apart, before it erases anyone. */
  absenceConfirmDelaySeconds: number;
  /** How long a deactivation waits for the upstream's record to say so before it is a failure. */
  upstreamConfirmBudgetMs: number;
  upstreamMaxRequestsPerSecond: number;
};

export type ReconcileConfig = {
  pageSize: number;
  pagesPerMessage: number;
  maxPages: number;
  maxRemovalShare: number;
};

export type NotifyConfig = {
  /** null: notifications are off (nothing is relayed or sent). */
  url: string | null;
  /** APP_WEBHOOK_SECRET, format-checked here, imported by src/notify/sign.ts; set whenever url is. */
  secret: string;
  /** HTTP tries per change before it is given up (`failed`). */
  maxAttempts: number;
  timeoutMs: number;
};

export type ReadConfig = {
  roleMapping: RoleMappingEntry[];
};

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    // Names the variables only; values (which may be secrets) never reach the message.
    super(`invalid configuration: ${issues.join("; ")}`);
    this.name = "ConfigError";
  }
}

const cache = new WeakMap<object, Map<Section, unknown>>();

function parseSection<S extends Section>(env: Env, section: S): z.infer<(typeof sections)[S]> {
  let parsed = cache.get(env);
  if (!parsed) cache.set(env, (parsed = new Map()));
  if (parsed.has(section)) return parsed.get(section) as z.infer<(typeof sections)[S]>;
  const result = sections[section].safeParse(env);
  if (!result.success) throw new ConfigError(describe(result.error));
  parsed.set(section, result.data);
  return result.data as z.infer<(typeof sections)[S]>;
}

function describe(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".")}: ${issue.code}`);
}

export function ingestConfig(env: Env): IngestConfig {
  const vars = parseSection(env, "ingest");
  return {
    toleranceSeconds: vars.WEBHOOK_TOLERANCE_SECONDS,
    maxBodyBytes: vars.MAX_BODY_BYTES,
    dedupeTtlSeconds: vars.DEDUPE_TTL_SECONDS,
    dedupe: vars.DEDUPE_KV,
  };
}

export function consumerConfig(env: Env): ConsumerConfig {
  const vars = parseSection(env, "consumer");
  return {
    retryBaseSeconds: vars.RETRY_BASE_DELAY_SECONDS,
    destructiveGuard: {
      windowMs: vars.DESTRUCTIVE_GUARD_WINDOW_SECONDS * 1000,
      min: vars.DESTRUCTIVE_GUARD_MIN,
      maxShare: vars.DESTRUCTIVE_GUARD_MAX_SHARE,
    },
    absenceConfirmDelaySeconds: vars.ABSENCE_CONFIRM_DELAY_SECONDS,
    upstreamConfirmBudgetMs: vars.UPSTREAM_CONFIRM_BUDGET_SECONDS * 1000,
    upstreamMaxRequestsPerSecond: vars.UPSTREAM_MAX_REQUESTS_PER_SECOND,
  };
}

export function reconcileConfig(env: Env): ReconcileConfig {
  const vars = parseSection(env, "reconcile");
  return {
    pageSize: vars.RECONCILE_PAGE_SIZE,
    pagesPerMessage: vars.RECONCILE_PAGES_PER_MESSAGE,
    maxPages: vars.RECONCILE_MAX_PAGES,
    maxRemovalShare: vars.RECONCILE_MAX_REMOVAL_SHARE,
  };
}

export function readConfig(env: Env): ReadConfig {
  return { roleMapping: parseSection(env, "read").ROLE_MAPPING };
}

/** How long the change feed keeps changes (src/changes/retention.ts). */
export function feedConfig(env: Env): { retentionDays: number } {
  return { retentionDays: parseSection(env, "feed").CHANGE_RETENTION_DAYS };
}

/** How long retention (src/retention) keeps event-derived records and run reports. */
export function retentionConfig(env: Env): { retentionDays: number; runReportRetentionDays: number } {
  const vars = parseSection(env, "retention");
  return { retentionDays: vars.RETENTION_DAYS, runReportRetentionDays: vars.RUN_REPORT_RETENTION_DAYS };
}

/** Outbound change notifications (src/notify). */
export function notifyConfig(env: Env): NotifyConfig {
  const vars = parseSection(env, "notify");
  return {
    url: vars.APP_WEBHOOK_URL || null,
    secret: vars.APP_WEBHOOK_SECRET,
    maxAttempts: vars.NOTIFY_MAX_ATTEMPTS,
    timeoutMs: vars.NOTIFY_TIMEOUT_MS,
  };
}

export type FirstupApiConfig = {
  /** FIRSTUP_API_URL, else FIRSTUP_SCIM_URL without its /scim/v2; null: neither says. */
  url: string | null;
  /** FIRSTUP_API_TOKEN (scope webhooks.read is all the Worker needs); null: unset. */
  token: string | null;
};

/** Firstup's API for the console's webhook subscription status (src/providers/firstup/subscription-status.ts). */
export function firstupApiConfig(env: Env): FirstupApiConfig {
  const vars = parseSection(env, "firstupApi");
  const scimUrl = typeof env.FIRSTUP_SCIM_URL === "string" ? env.FIRSTUP_SCIM_URL : "";
  const token = typeof env.FIRSTUP_API_TOKEN === "string" ? env.FIRSTUP_API_TOKEN.trim() : "";
  return { url: vars.FIRSTUP_API_URL || apiUrlFromScimUrl(scimUrl), token: token || null };
}


/** Which queue carries dead letters: a plain string, so routing to it can never fail on config. */
export function deadLetterQueueName(env: Env): string {
  const name = typeof env.DEAD_LETTER_QUEUE === "string" ? env.DEAD_LETTER_QUEUE.trim() : "";
  return name || DEFAULT_DEAD_LETTER_QUEUE;
}

/** Every invalid setting, by variable name and problem (never its value), for /healthz. */
export function configProblems(env: Env): { setting: string; problem: string }[] {
  const problems: { setting: string; problem: string }[] = [];
  for (const schema of Object.values(sections)) {
    const result = schema.safeParse(env);
    if (!result.success) {
      for (const issue of result.error.issues) problems.push({ setting: String(issue.path[0] ?? "unknown"), problem: issue.code });
    }
  }
  return problems;
}
