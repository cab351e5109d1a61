import { describe, expect, it } from "vitest";
import { csvRecords } from "../../src/import/csv";

const parse = (text: string) => [...csvRecords(text)];
const fields = (text: string) => parse(text).map((record) => ("fields" in record ? record.fields : record.error));

/** The examples of RFC 4180, section 2, each with the records the RFC says it holds. */
describe("RFC 4180 examples", () => {
  it("1. records end with CRLF", () => {
    expect(fields("aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n")).toEqual([
      ["aaa", "bbb", "ccc"],
      ["zzz", "yyy", "xxx"],
    ]);
  });

  it("2. the last record may lack its line break", () => {
    expect(fields("aaa,bbb,ccc\r\nzzz,yyy,xxx")).toEqual([
      ["aaa", "bbb", "ccc"],
      ["zzz", "yyy", "xxx"],
    ]);
  });

  it("3. a header line is a record like the others", () => {
    expect(fields("field_name,field_name,field_name\r\naaa,bbb,ccc\r\nzzz,yyy,xxx\r\n")).toEqual([
      ["field_name", "field_name", "field_name"],
      ["aaa", "bbb", "ccc"],
      ["zzz", "yyy", "xxx"],
    ]);
  });

  it("4. spaces are part of a field", () => {
    expect(fields("aaa , bbb,ccc ")).toEqual([["aaa ", " bbb", "ccc "]]);
  });

  it("5. fields may be enclosed in double quotes", () => {
    expect(fields('"aaa","bbb","ccc"\r\nzzz,yyy,xxx')).toEqual([
      ["aaa", "bbb", "ccc"],
      ["zzz", "yyy", "xxx"],
    ]);
  });

  it("6. quoted fields hold line breaks and commas", () => {
    expect(fields('"aaa","b\r\nbb","ccc"\r\nzzz,yyy,xxx')).toEqual([
      ["aaa", "b\r\nbb", "ccc"],
      ["zzz", "yyy", "xxx"],
    ]);
    expect(fields('"a,b",c')).toEqual([["a,b", "c"]]);
  });

  it("7. a double quote inside a quoted field is doubled", () => {
    expect(fields('"aaa","b""bb","ccc"')).toEqual([["aaa", 'b"bb', "ccc"]]);
  });
});

describe("csvRecords", () => {
  it("numbers each record by the line it starts on, counting line breaks inside quotes", () => {
    const records = parse('h1,h2\n"multi\nline\r\nvalue",x\r\nnext,y\n\n\nlast,z');
    expect(records.map((record) => record.line)).toEqual([1, 2, 5, 8]);
    expect(records[1]).toEqual({ line: 2, fields: ["multi\nline\r\nvalue", "x"] });
  });

  it("accepts LF and CR alone as line breaks, and skips empty lines", () => {
    expect(fields("a,b\nc,d\re,f\r\n\r\n\ng,h\n")).toEqual([
      ["a", "b"],
      ["c", "d"],
      ["e", "f"],
      ["g", "h"],
    ]);
  });

  it("keeps empty fields: between commas, at the end, and quoted", () => {
    expect(fields('a,,c,\n"",x')).toEqual([
      ["a", "", "c", ""],
      ["", "x"],
    ]);
  });

  it("reports a quote inside an unquoted field, skips its line, and goes on", () => {
    expect(parse('a,b"c,d\ne,f')).toEqual([
      { line: 1, error: "quote_in_unquoted_field" },
      { line: 2, fields: ["e", "f"] },
    ]);
  });

  it("reports text after a closing quote, skips its line, and goes on", () => {
    expect(parse('"a"b,c\ne,f')).toEqual([
      { line: 1, error: "text_after_quote" },
      { line: 2, fields: ["e", "f"] },
    ]);
  });

  it("reports an unterminated quote once, at the line where it starts", () => {
    expect(parse('a,b\n"never closed,c\nd,e\n')).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, error: "unterminated_quote" },
    ]);
  });

  it("yields nothing for an empty text or only line breaks", () => {
    expect(parse("")).toEqual([]);
    expect(parse("\r\n\n")).toEqual([]);
  });
});
