import { env } from "cloudflare:test";

/**
 * Timing inside workerd. Each sample times a batch of iterations long enough (≥ 25 ms) for the
 * runtime's millisecond clock to resolve it; figures are the median and quartiles over samples,
 * taken after a warm-up. Results go to the runner's collector (bench/run.ts), never into a test
 * assertion: these machines are shared and noisy.
 */
export interface Timing {
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
  iterationsPerSample: number;
  samples: number;
}

export async function measure(work: () => Promise<unknown> | unknown, options: { samples?: number; warmup?: number; minSampleMs?: number } = {}): Promise<Timing> {
  const samples = options.samples ?? 15;
  const minSampleMs = options.minSampleMs ?? 25;
  for (let i = 0; i < (options.warmup ?? 30); i++) await work();
  let iterations = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await work();
    if (performance.now() - start >= minSampleMs || iterations >= 1 << 20) break;
    iterations *= 2;
  }
  const perOp: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await work();
    perOp.push((performance.now() - start) / iterations);
  }
  perOp.sort((a, b) => a - b);
  const at = (q: number) => perOp[Math.min(perOp.length - 1, Math.floor(q * perOp.length))]!;
  return { medianMs: at(0.5), p25Ms: at(0.25), p75Ms: at(0.75), iterationsPerSample: iterations, samples };
}

export async function report(section: string, data: unknown): Promise<void> {
  const response = await fetch(env.BENCH_COLLECTOR, { method: "POST", body: JSON.stringify({ section, data }) });
  if (!response.ok) throw new Error(`collector refused ${section}`);
}
