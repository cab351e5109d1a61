/**
 * A PATCH the server refuses: always 400, with a `scimType` from RFC 7644 §3.12.
 * - `invalidSyntax`: the body is not a PatchOp message (or is over the size bounds);
 * - `invalidPath`: a path, or a key of a path-less value, names no attribute we know, or is malformed;
 * - `invalidValue`: a value of the wrong type, or a missing value;
 * - `noTarget`: a remove without a path, or a replace whose value filter matched nothing;
 * - `mutability`: a change to a read-only attribute (id, meta, schemas, groups) or leaving a
 *   required one unassigned (RFC 7644 §3.5.2.2).
 * The detail names the operation and the attribute, never a value sent.
 */
export type PatchScimType = "invalidSyntax" | "invalidPath" | "invalidValue" | "noTarget" | "mutability";

export interface PatchFailure {
  ok: false;
  status: 400;
  scimType: PatchScimType;
  detail: string;
}

export const patchFailure = (scimType: PatchScimType, detail: string): PatchFailure => ({ ok: false, status: 400, scimType, detail });

export const isFailure = (value: object): value is PatchFailure => "ok" in value && value.ok === false;

export const truncate = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}…` : text);
