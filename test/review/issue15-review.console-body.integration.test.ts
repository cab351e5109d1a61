import { describe, expect, it } from "vitest";
import { CONSOLE_SECURITY_HEADERS } from "../../src/console/headers";
import { CONSOLE_BASE, signInConsole } from "../support/console";
import { callApp } from "../support/worker";

/**
 * Review of issue 15: the console's form posts are small (a token, a CSRF value, at most 100
 * dead-letter ids). POST /admin/sign-in answers anyone, before any session: its body must not be
 * read whole into memory whatever its size, or one request can exhaust the isolate that also takes
 * webhook deliveries.
 */

const PIECE = 64 * 1024;

/** A form body of `total` bytes, produced only as it is read; `pulled()` says how much was. */
function lazyForm(total: number) {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      const piece = new TextEncoder().encode((sent === 0 ? "csrf=x&token=" : "") + "a".repeat(PIECE));
      sent += piece.length;
      controller.enqueue(piece);
    },
  });
  return { stream, pulled: () => sent };
}

const errorCode = (html: string) => /data-testid="error" data-code="([^"]+)"/.exec(html)?.[1] ?? null;

describe("console form posts are bounded", () => {
  it("an oversized sign-in post is refused 413 without reading it all (no session needed to send one)", async () => {
    const body = lazyForm(4 * 1024 * 1024);
    const response = await callApp(
      new Request(`${CONSOLE_BASE}/admin/sign-in`, { method: "POST", body: body.stream, headers: { "content-type": "application/x-www-form-urlencoded" }, duplex: "half" } as RequestInit),
    );
    expect(response.status).toBe(413);
    expect(errorCode(await response.text())).toBe("payload_too_large");
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) expect(response.headers.get(name), name).toBe(value);
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it("…and by its Content-Length, before reading anything; a signed-in form post likewise", async () => {
    const declared = await callApp(
      new Request(`${CONSOLE_BASE}/admin/sign-in`, { method: "POST", body: "csrf=x&token=y", headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(50 * 1024 * 1024) } }),
    );
    expect(declared.status).toBe(413);
    const admin = await signInConsole();
    const big = await admin.post("/admin/console/dead-letters/replay", { id: Array.from({ length: 20_000 }, (_, i) => `msg_${i}`) });
    expect(big.status).toBe(413);
    expect(errorCode(await big.text())).toBe("payload_too_large");
  });
});
