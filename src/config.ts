import { z } from "zod";

/** Hard ceiling on webhook bodies. The spec recommends payloads under 20 kB. */
export const BODY_LIMIT_CEILING_BYTES = 1024 * 1024;

const configSchema = z.object({
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(BODY_LIMIT_CEILING_BYTES).default(BODY_LIMIT_CEILING_BYTES),
  DEDUPE_TTL_SECONDS: z.coerce.number().int().min(60).default(7 * 24 * 3600),
  RETRY_BASE_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  DEAD_LETTER_QUEUE: z.string().min(1),
});

export type Config = {
  toleranceSeconds: number;
  maxBodyBytes: number;
  dedupeTtlSeconds: number;
  retryBaseSeconds: number;
  deadLetterQueue: string;
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
      retryBaseSeconds: vars.RETRY_BASE_DELAY_SECONDS,
      deadLetterQueue: vars.DEAD_LETTER_QUEUE,
    };
    parsed.set(env, config);
  }
  return config;
}
