/**
 * Bounds of one bulk import (POST /admin/import). They follow from what one request may do: the
 * rows are validated, chunked and queued on the request path, so the file's size, its row count
 * and the Queue calls it takes are all capped, and a file past any of them is 413
 * `payload_too_large` before anything is recorded.
 */

/** Largest request body, checked on Content-Length and again while the body streams in. */
export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

/**
 * Most data rows (valid or not) in one file. Also what keeps a row's number usable as the
 * sub-millisecond part of its event's version (at most 999,999: directory/version.ts).
 */
export const MAX_IMPORT_ROWS = 50_000;

/**
 * A row as queued (its JSON inside a chunk) is at most this big, so the largest row still fits one
 * queue message with its chunk's envelope; a bigger one is reported `row_too_large`.
 */
export const MAX_ROW_BYTES = 64 * 1024;

/**
 * Rows per queue message. The consumer applies one chunk in one D1 batch, and when that batch fails
 * it retries the chunk's rows one by one: this bounds those round trips.
 */
export const MAX_ROWS_PER_CHUNK = 100;

/** sendBatch takes at most 100 messages and 256 KB in all (decimal kilobytes, to be safe). */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 256_000;
/** What each message may add to a batch beyond its body (the Queue's own envelope), assumed. */
export const SEND_BATCH_OVERHEAD_PER_MESSAGE = 100;

/**
 * sendBatch calls one import may make. Each is a subrequest, and the request also makes 2 or 3 D1
 * calls: 40 stays under the Workers Free plan's 50 subrequests per request. At 256 KB a call that
 * is about 10 MB of queued rows, more than a 5 MB file of 50,000 rows becomes; a file that would
 * need more is refused whole (413), never queued in part.
 */
export const MAX_SEND_BATCH_CALLS = 40;

/** Per-line errors kept in the report (the count of invalid rows is always exact). */
export const MAX_REPORTED_ERRORS = 1_000;

/** Imports listed per page at most (GET /admin/imports). */
export const MAX_IMPORTS_PER_PAGE = 100;
