/**
 * The case-insensitive key of a SCIM string attribute (userName, emails): Unicode case folding,
 * applied identically when a row is written (users.user_name_key, users.email_key) and when a
 * query is built, so `userName eq "ÉLODIE@exemple.fr"` finds "élodie@exemple.fr".
 *
 * NFC first, so composed and decomposed forms of one letter compare equal. Upper then lower
 * approximates full case folding (ß → SS → ss), which toLowerCase alone does not; SQLite's lower() folds ASCII only, which is why this never happens in SQL.
 */
export function foldCase(value: string): string {
  // toLowerCase() turns a word-final Σ into ς, so σ and ς are unified afterwards (as case folding does).
  return value.normalize("NFC").toUpperCase().toLowerCase().replace(/ς/g, "σ");
}

export function foldCaseOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : foldCase(value);
}
