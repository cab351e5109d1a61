import * as z from "zod";

/** Hard ceiling on webhook bodies. The spec recommends payloads under 20 kB. */
export const BODY_LIMIT_CEILING_BYTES = 1024 * 1024;

/** Group name or external id → application roles, e.g. {"Admins": ["admin"], "grp_123": ["billing"]}. */
const roleMapping = z.record(z.string().min(1).max(256), z.array(z.string().min(1).max(128)).min(1).max(50));

const configSchema = z.object({
  ROLE_MAPPING: z
    .string()
    .default("{}")
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: "custom", message: "not JSON" });
        return z.NEVER;
      }
    })
    .pipe(roleMapping),
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(BODY_LIMIT_CEILING_BYTES).default(BODY_LIMIT_CEILING_BYTES),
  DEDUPE_TTL_SECONDS: z.coerce.number().int().min(60).default(7 * 24 * 3600),
  DEDUPE_KV: z.enum(["on", "off"]).default("on"),
  RETRY_BASE_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  DEAD_LETTER_QUEUE: z.string().min(1),
  RECONCILE_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  RECONCILE_PAGES_PER_MESSAGE: z.coerce.number().int().min(1).max(40).default(5),
  RECONCILE_MAX_PAGES: z.coerce.number().int().min(1).default(5000),
  RECONCILE_MAX_REMOVAL_SHARE: z.coerce.number().min(0).max(1).default(0.1),
});

export type Config = {
  toleranceSeconds: number;
  maxBodyBytes: number;
  dedupeTtlSeconds: number;
  /** KV fast-path dedupe at ingress; off trades one KV read and write per event for D1's check. */
  dedupeKv: boolean;
  retryBaseSeconds: number;
  deadLetterQueue: string;
  reconcile: ReconcileConfig;
  roleMapping: Record<string, string[]>;
};

export type ReconcileConfig = {
  pageSize: number;
  pagesPerMessage: number;
  maxPages: number;
  maxRemovalShare: number;
};

export class ConfigError extends Error {
  constructor(issues: string[]) {
    // Names the variables only; values (which may be secrets) never reach the message.
    super(`invalid configuration: ${issues.join("; ")}`);
    this.name = "ConfigError";
  }
}

const parsed = new WeakMap<object, Config>();

/** Validated once per isolate per env object; a bad value fails loudly instead of defaulting. */
export function configFrom(env: Env): Config {
  let config = parsed.get(env);
  if (!config) {
    const result = configSchema.safeParse(env);
    if (!result.success) throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.code}`));
    const vars = result.data;
    config = {
      toleranceSeconds: vars.WEBHOOK_TOLERANCE_SECONDS,
      maxBodyBytes: vars.MAX_BODY_BYTES,
      dedupeTtlSeconds: vars.DEDUPE_TTL_SECONDS,
      dedupeKv: vars.DEDUPE_KV === "on",
      retryBaseSeconds: vars.RETRY_BASE_DELAY_SECONDS,
      deadLetterQueue: vars.DEAD_LETTER_QUEUE,
      roleMapping: vars.ROLE_MAPPING,
      reconcile: {
        pageSize: vars.RECONCILE_PAGE_SIZE,
        pagesPerMessage: vars.RECONCILE_PAGES_PER_MESSAGE,
        maxPages: vars.RECONCILE_MAX_PAGES,
        maxRemovalShare: vars.RECONCILE_MAX_REMOVAL_SHARE,
      },
    };
    parsed.set(env, config);
  }
  return config;
}
