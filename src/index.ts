import { createApp } from "./http/app";
import { handleQueueBatch } from "./consumer";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueueBatch(batch, env),
} satisfies ExportedHandler<Env, unknown>;
