import * as z from "zod";
import { decodeBase64, encodeBase64 } from "../verify/base64";

/**
 * Opaque page cursors: a JSON tuple as UTF-8, base64url-encoded, so any id (non-Latin-1, "/", "+")
 * makes a cursor that is safe in a query string. Cursors of ASCII-only tuples are the same as
 * before UTF-8 encoding was added, so cursors handed out earlier still work. Clients pass back what
 * they were given; anything else is a 400, never a query on attacker-chosen values of the wrong type.
 */
export function encodeCursor(values: (string | number)[]): string {
  return encodeBase64(new TextEncoder().encode(JSON.stringify(values))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function cursorOf<T extends z.ZodType<unknown[]>>(shape: T) {
  return z
    .string()
    .max(2048)
    .transform((text, context): z.infer<T> => {
      const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
      const bytes = decodeBase64(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
      try {
        const parsed = bytes ? shape.safeParse(JSON.parse(strictUtf8.decode(bytes))) : null;
        if (parsed?.success) return parsed.data;
      } catch {
        // reported below
      }
      context.addIssue({ code: "custom", message: "not a cursor from this API" });
      return z.NEVER;
    });
}
