/**
 * The browser-test harness: Debian's Chromium driven by playwright-core (no browser of its own is
 * ever downloaded), a tiny sequential runner with bounded steps, screenshots under
 * test/browser/artifacts/ (git-ignored), and a one-line summary CI can read.
 *
 * Each test gets a fresh browser context (its own cookies), so a failed test never leaves a
 * session behind for the next one, and the pass/fail counts mean one thing each.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const ARTIFACTS = join(import.meta.dirname, "artifacts");

/** Debian's package installs it here; CHROMIUM_PATH points elsewhere (another distribution). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Flags that keep Chromium off the network on a machine that only reaches loopback: without the
 * background-networking ones it keeps dialing Google's hosts and logs each refusal. Playwright
 * adds --headless and a new empty --user-data-dir of its own on every launch.
 */
const CHROMIUM_FLAGS = [
  "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A viewport the README screenshot is taken at too: small enough to commit. */
export const VIEWPORT = { width: 1280, height: 800 };

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
}

export function cleanArtifacts(): void {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
}

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Polls `probe` until it returns a value other than undefined; a bounded wait with a clear message. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

export interface TestContext {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Messages of the dialogs (confirmations) the pages opened, each accepted. */
  dialogs: string[];
  /** Saves a full-page screenshot as test/browser/artifacts/<nn>-<test>-<name>.png. */
  shot(name: string, page?: Page): Promise<string>;
}

export interface BrowserTest {
  name: string;
  /** Options for this test's browser context (e.g. javaScriptEnabled: false). */
  contextOptions?: Parameters<Browser["newContext"]>[0];
  run(t: TestContext): Promise<void>;
}

export interface Summary {
  passed: number;
  failed: number;
  failures: { name: string; error: string }[];
}

/** Every test must end within this; a hung page fails its test instead of CI's whole job. */
const TEST_TIMEOUT_MS = 120_000;
/**
 * Playwright's own per-action and per-navigation bounds: generous, because `wrangler dev` on a busy
 * two-core machine can take seconds to answer a page that checks the upstreams.
 */
const ACTION_TIMEOUT_MS = 20_000;

/**
 * Runs the tests one after another in fresh contexts of one browser. Anything the page logs as an
 * error (a CSP violation, a failed script, an uncaught exception) fails the test: a console that
 * looks right but trips its own CSP is broken.
 */
export async function runTests(browser: Browser, baseURL: string, tests: BrowserTest[]): Promise<Summary> {
  const summary: Summary = { passed: 0, failed: 0, failures: [] };
  for (const [index, test] of tests.entries()) {
    // Files are named by the test's short name, the part before its colon.
    const prefix = `${String(index + 1).padStart(2, "0")}-${slug(test.name.split(":")[0]!)}`;
    const started = Date.now();
    // Each test signs in from an address of its own (CF-Connecting-IP, which wrangler dev passes
    // through): the console limits sign-in attempts per address and minute (SIGN_IN_LIMITER), and
    // the whole run signs in more often than one address may.
    const clientIp = { "CF-Connecting-IP": `2001:db8::b:${index + 1}` };
    const context = await browser.newContext({ viewport: VIEWPORT, baseURL, ...test.contextOptions, extraHTTPHeaders: { ...clientIp, ...test.contextOptions?.extraHTTPHeaders } });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
    const pageErrors: string[] = [];
    const dialogs: string[] = [];
    context.on("page", (page) => {
      watchErrors(page, pageErrors);
      // Forms that change things ask first (data-confirm); the operator says yes. Playwright's
      // default would dismiss the dialog and so cancel the submission.
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });
    });
    const page = await context.newPage();
    const shot = async (name: string, target: Page = page) => {
      const path = join(ARTIFACTS, `${prefix}-${slug(name)}.png`);
      await target.screenshot({ path, fullPage: true });
      return path;
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        test.run({ browser, context, page, shot, dialogs }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`test did not finish within ${TEST_TIMEOUT_MS / 1000} s`)), TEST_TIMEOUT_MS);
        }),
      ]);
      if (pageErrors.length > 0) throw new Error(`the page reported errors:\n    ${pageErrors.join("\n    ")}`);
      summary.passed++;
      console.log(`  ✓ ${test.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      summary.failed++;
      const message = error instanceof Error ? error.message : String(error);
      summary.failures.push({ name: test.name, error: message });
      console.log(`  ✗ ${test.name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n    ${message.split("\n").join("\n    ")}`);
      await page.screenshot({ path: join(ARTIFACTS, `${prefix}-FAILED.png`), fullPage: true }).catch(() => undefined);
    } finally {
      clearTimeout(timer);
      await context.close().catch(() => undefined);
    }
  }
  return summary;
}

function watchErrors(page: Page, errors: string[]): void {
  page.on("console", (message) => {
    // A deliberately provoked 4xx page (CSRF, viewer) logs "Failed to load resource"; that is the
    // test's subject, not a defect. Anything else logged as an error is.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
      errors.push(`console: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
}
