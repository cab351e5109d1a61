/**
 * Review of issue 15, the operator scripts against hosts that misbehave.
 *
 * `npm run firstup:subscribe` sends Firstup the webhook Authorization value
 * (FIRSTUP_WEBHOOK_AUTHORIZATION, the secret the Worker accepts deliveries with) in the body of a
 * create or update. If the API answers with a redirect, nothing may follow it to another host: fetch
 * drops the bearer token on a cross-origin redirect but re-sends a 307's body as it was.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "firstup-redirect-"));
const elsewhere: { method: string; authorization: string | null; body: string }[] = [];
let target: Server;
let redirector: Server;

const listen = (server: Server) => new Promise<number>((done) => server.listen(0, "127.0.0.1", () => done((server.address() as { port: number }).port)));

before(async () => {
  target = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      elsewhere.push({ method: request.method ?? "", authorization: request.headers.authorization ?? null, body });
      response.setHeader("content-type", "application/json");
      // Looks like an empty listing, and like a created subscription.
      response.end(request.method === "GET" ? '{"data":[]}' : '{"data":{"id":"sub_x","url":"https://sync.example.com/webhooks/firstup","active":true,"events":[]}}');
    });
  });
  const targetPort = await listen(target);
  // Firstup's API host answering every request with a redirect to another origin.
  redirector = createServer((request, response) => {
    request.resume();
    response.statusCode = 307;
    response.setHeader("location", `http://localhost:${targetPort}${request.url}`);
    response.end();
  });
  await listen(redirector);
});

after(() => {
  target.close();
  redirector.close();
  rmSync(scratch, { recursive: true, force: true });
});

test("firstup:subscribe never follows a redirect from the API to another host", async () => {
  const port = (redirector.address() as { port: number }).port;
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", "firstup-subscribe.ts"), "--url", "https://sync.example.com/webhooks/firstup", "--api", `http://127.0.0.1:${port}`], {
      cwd: scratch,
      env: { PATH: process.env.PATH ?? "", FIRSTUP_API_TOKEN: "api-token-secret", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer webhook-secret-value" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
  assert.deepEqual(elsewhere, [], "nothing reached the redirect's target");
  assert.equal(result.code, 1);
  assert.doesNotMatch(result.stdout + result.stderr, /webhook-secret-value|api-token-secret/);
});

function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", script), ...args], { cwd: scratch, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

test("npm run import refuses plain http to a host other than loopback: the admin token and the file would cross in clear", async () => {
  const file = join(scratch, "users.csv");
  writeFileSync(file, "external_id,email\nu1,ann@example.com\n");
  const result = await runScript("import.ts", [file, "--url", "http://sync.invalid"], { ADMIN_TOKEN: "admin-token-secret" });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--url must be https/);
  assert.doesNotMatch(result.stdout + result.stderr, /admin-token-secret/);
});

