/**
 * A request the SCIM server refuses with 400 and a `scimType` from RFC 7644 §3.12:
 * - `invalidFilter`: the filter does not parse, or names an attribute or comparison not supported;
 * - `invalidValue`: a parameter has the wrong type or an unsupported value (startIndex=abc,
 *   sortBy=password, sortOrder=sideways);
 * - `invalidSyntax`: a POST /.search body that is not a SearchRequest message.
 * The detail names the parameter and the problem, never the value sent.
 */
export type ScimType = "invalidFilter" | "invalidValue" | "invalidSyntax";

export class ScimRequestError extends Error {
  constructor(
    readonly scimType: ScimType,
    detail: string,
  ) {
    super(detail);
    this.name = "ScimRequestError";
  }
}
