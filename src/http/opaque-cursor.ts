import * as z from "zod";

/**
 * Opaque page cursors: a JSON tuple, base64url-encoded. Clients pass back what they were given;
 * anything else is a 400, never a query on attacker-chosen values of the wrong type.
 */
export function encodeCursor(values: (string | number)[]): string {
  return btoa(JSON.stringify(values)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function cursorOf<T extends z.ZodType<unknown[]>>(shape: T) {
  return z
    .string()
    .max(2048)
    .transform((text, context): z.infer<T> => {
      try {
        const parsed = shape.safeParse(JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/"))));
        if (parsed.success) return parsed.data;
      } catch {
        // reported below
      }
      context.addIssue({ code: "custom", message: "not a cursor from this API" });
      return z.NEVER;
    });
}
