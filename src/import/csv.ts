/**
 * CSV as RFC 4180 defines it, with the line each record starts on (for per-line errors):
 * - fields separated by `,`, records by CRLF; LF alone and CR alone end a record too;
 * - a field in double quotes may hold commas, line breaks and quotes (doubled: `""`);
 * - the last record may end without a line break; empty lines are skipped (they are not records).
 *
 * A malformed record (a quote inside an unquoted field, text after a closing quote) is reported
 * and skipped up to the end of its line, so one bad line never costs the rest of the file; an
 * unterminated quoted field runs to the end of the input, so it is reported once, at its line.
 *
 * Written here rather than taken from npm: the parsers that run in workerd without Node's streams
 * either do not report where a record starts or accept malformed quoting silently.
 */

export type CsvRecord = { line: number; fields: string[] } | { line: number; error: "quote_in_unquoted_field" | "text_after_quote" | "unterminated_quote" };

const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const LF = 10;

export function* csvRecords(text: string): Generator<CsvRecord> {
  let at = 0;
  let line = 1;
  const length = text.length;

  /** Moves past one line break at `at` (CRLF counts once); returns whether there was one. */
  const skipBreak = (): boolean => {
    const code = text.charCodeAt(at);
    if (code === CR) {
      at += text.charCodeAt(at + 1) === LF ? 2 : 1;
    } else if (code === LF) {
      at += 1;
    } else {
      return false;
    }
    line += 1;
    return true;
  };
  /** After a malformed field: drop the rest of its line. */
  const skipLine = () => {
    while (at < length && !skipBreak()) at += 1;
  };

  while (at < length) {
    if (skipBreak()) continue; // an empty line
    const start = line;
    const fields: string[] = [];
    let error: Extract<CsvRecord, { error: string }>["error"] | null = null;
    for (;;) {
      let value = "";
      if (text.charCodeAt(at) === QUOTE) {
        at += 1;
        let closed = false;
        while (!closed) {
          const quote = text.indexOf('"', at);
          const end = quote === -1 ? length : quote;
          // Line breaks inside quotes are data, kept as written, but still count as lines.
          for (let i = at; i < end; i++) {
            const code = text.charCodeAt(i);
            if (code === LF || (code === CR && text.charCodeAt(i + 1) !== LF)) line += 1;
          }
          value += text.slice(at, end);
          if (quote === -1) {
            at = length;
            break;
          }
          if (text.charCodeAt(quote + 1) === QUOTE) {
            value += '"';
            at = quote + 2;
          } else {
            at = quote + 1;
            closed = true;
          }
        }
        if (!closed) {
          error = "unterminated_quote";
          break;
        }
        const next = text.charCodeAt(at);
        if (at < length && next !== COMMA && next !== CR && next !== LF) {
          error = "text_after_quote";
          skipLine();
          break;
        }
      } else {
        const from = at;
        while (at < length) {
          const code = text.charCodeAt(at);
          if (code === COMMA || code === CR || code === LF) break;
          if (code === QUOTE) error = "quote_in_unquoted_field";
          at += 1;
        }
        if (error) {
          skipLine();
          break;
        }
        value = text.slice(from, at);
      }
      fields.push(value);
      if (at < length && text.charCodeAt(at) === COMMA) {
        at += 1;
        continue;
      }
      skipBreak();
      break;
    }
    yield error ? { line: start, error } : { line: start, fields };
  }
}
