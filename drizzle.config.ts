import { defineConfig } from "drizzle-kit";

// `npm run db:generate` turns src/directory/schema.ts into SQL in migrations/, which
// `wrangler d1 migrations apply` runs. Generated files are never hand-edited after merge.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/directory/schema.ts",
  out: "./migrations",
});
