import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, totalmem } from "node:os";

/**
 * Runs workerd benchmarks (bench/vitest.config.ts) with a collector on loopback that keeps what
 * each posts (`report()` in bench/workerd/measure.ts), and returns it by section. `env` reaches
 * vitest and the benchmarks (BENCH_INCLUDE picks the files).
 */
export async function runWorkerdBenchmarks(env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const collected: Record<string, unknown> = {};
  const collector = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const { section, data } = JSON.parse(body) as { section: string; data: unknown };
      collected[section] = data;
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  // Asynchronous on purpose: the collector above must keep answering while vitest runs.
  const exit = await new Promise<number | null>((resolve) => {
    const child = spawn("vitest", ["run", "--config", "bench/vitest.config.ts"], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env, BENCH_COLLECTOR: url } });
    child.on("exit", resolve);
  });
  collector.close();
  if (exit !== 0) throw new Error("workerd benchmarks failed");
  return collected;
}

/** The machine and toolchain a run measured on: these machines are shared and vary. */
export function describeMachine(started: number): string {
  const version = (name: string) => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")) as { version: string }).version;
  return `Run ${new Date(started).toISOString()} · ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · workerd ${version("workerd")} · wrangler ${version("wrangler")}`;
}

/** Rewrites what lies between `<!-- bench:<name>:start -->` and its end marker in `file` (appended when absent). */
export function replaceBetweenMarkers(file: string, name: string, text: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "";
  const block = `${start}\n${text}\n${end}`;
  writeFileSync(file, current.includes(start) ? current.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => block) : `${current}\n${block}\n`);
}
