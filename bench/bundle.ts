/** The deployable bundle: `wrangler deploy --dry-run` size, raw and gzip, and what it is made of. */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export function measureBundle() {
  const outdir = "dist/bench-bundle";
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir, "--metafile"], { stdio: "ignore", env: { ...process.env, CI: "true" } });
  const script = readdirSync(outdir).find((file) => file.endsWith(".js"));
  if (!script) throw new Error("no bundle written");
  const code = readFileSync(join(outdir, script));
  const meta = JSON.parse(readFileSync(join(outdir, "bundle-meta.json"), "utf8")) as {
    outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const byPackage = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : input.startsWith("src/") ? "src (this project)" : "other";
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  const contributors = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, bytes]) => ({ name, bytes }));
  return { rawBytes: statSync(join(outdir, script)).size, gzipBytes: gzipSync(code, { level: 9 }).length, contributors };
}
