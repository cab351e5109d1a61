/**
 * Reading console pages in tests without a DOM: the rows and cells tests hook on by `data-testid`
 * (the contract in README.md, "Operator console"), with HTML entities decoded.
 */

export interface PageRow {
  /** The row's attributes (data-event-id, …), decoded. */
  attributes: Record<string, string>;
  /** The row's inner HTML. */
  html: string;
  /** The text of its `data-testid="status"` cell, decoded; null when it has none. */
  status: string | null;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'" };

export function decodeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, name: string) => ENTITIES[name]!);
}

/** Every `<tr data-testid="<testId>" …>…</tr>` of a page, in document order. */
export function rowsOf(html: string, testId: string): PageRow[] {
  const rows: PageRow[] = [];
  const pattern = new RegExp(`<tr data-testid="${testId}"([^>]*)>([\\s\\S]*?)</tr>`, "g");
  for (const match of html.matchAll(pattern)) {
    const attributes: Record<string, string> = {};
    for (const attribute of match[1]!.matchAll(/([a-z-]+)="([^"]*)"/g)) attributes[attribute[1]!] = decodeHtml(attribute[2]!);
    const inner = match[2]!;
    const status = /<td data-testid="status"[^>]*>([\s\S]*?)<\/td>/.exec(inner);
    rows.push({ attributes, html: inner, status: status ? decodeHtml(status[1]!.trim()) : null });
  }
  return rows;
}

/** The page's `<p role="status" data-testid="notice" data-code="…">` code and text, or null. */
export function noticeOf(html: string): { code: string; text: string } | null {
  const match = /<p role="status"[^>]*data-testid="notice"[^>]*data-code="([^"]*)"[^>]*>([\s\S]*?)<\/p>/.exec(html);
  return match ? { code: decodeHtml(match[1]!), text: decodeHtml(match[2]!.trim()) } : null;
}

/** The error page's stable code (`data-testid="error" data-code="…"`), or null. */
export function errorCodeOf(html: string): string | null {
  return /data-testid="error"[^>]*data-code="([^"]*)"/.exec(html)?.[1] ?? null;
}

/** The href of the element with `data-testid="<testId>"` (a next-page link), decoded; null when absent. */
export function hrefOf(html: string, testId: string): string | null {
  const match = new RegExp(`<a href="([^"]*)"[^>]*data-testid="${testId}"`).exec(html);
  return match ? decodeHtml(match[1]!) : null;
}
