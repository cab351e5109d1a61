/**
 * "First page · Next page" under a list. Pages are keyset cursors, so there is no "previous": once
 * past the first page, the way back is to its start.
 */
export function Pager({ firstHref, continued, nextHref }: { firstHref: string; continued: boolean; nextHref: string | null | undefined }) {
  return (
    <p class="pager">
      {continued ? <a href={firstHref}>First page</a> : null}
      {continued && nextHref ? " · " : null}
      {nextHref ? (
        <a href={nextHref} rel="next" data-testid="next-page">
          Next page
        </a>
      ) : null}
    </p>
  );
}
