/** @module Unit tests of the webhook field rules: URL, event types, custom headers. */
import { describe, expect, it } from "bun:test";
import { ValidationError } from "./errors.ts";
import { assertNoProblems, eventTypeProblems, headerProblems, MAX_EVENT_TYPES, MAX_HEADERS, MAX_URL_LENGTH, urlProblems } from "./webhook-rules.ts";

describe("urlProblems", () => {
  it("accepts absolute http and https URLs", () => {
    expect(urlProblems("https://example.com/hooks?x=1")).toEqual([]);
    expect(urlProblems("http://127.0.0.1:9000/in")).toEqual([]);
  });

  it("refuses a relative URL and names it", () => {
    const problems = urlProblems("/hooks/in");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("'/hooks/in' is not an absolute URL");
  });

  it("refuses schemes other than http and https", () => {
    expect(urlProblems("ftp://example.com/file")).toEqual(["url: scheme 'ftp' is not http or https"]);
    expect(urlProblems("file:///etc/passwd")[0]).toContain("scheme 'file'");
    expect(urlProblems("javascript:alert(1)")[0]).toContain("scheme 'javascript'");
  });

  it("refuses credentials in the URL", () => {
    expect(urlProblems("https://user:pass@example.com/")).toEqual(["url: credentials in the URL are not allowed; use headers"]);
    expect(urlProblems("https://user@example.com/")).toHaveLength(1);
  });

  it("reports several problems of one URL together", () => {
    expect(urlProblems("ftp://user:pass@example.com/")).toHaveLength(2);
  });

  it("refuses a URL longer than the limit and accepts one at the limit", () => {
    const base = "https://example.com/";
    expect(urlProblems(base + "a".repeat(MAX_URL_LENGTH - base.length))).toEqual([]);
    expect(urlProblems(base + "a".repeat(MAX_URL_LENGTH - base.length + 1))).toEqual([`url: longer than ${MAX_URL_LENGTH} characters`]);
  });
});

describe("eventTypeProblems", () => {
  it("accepts ordinary types, prefix patterns and the * wildcard", () => {
    expect(eventTypeProblems(["order.created", "invoice:paid", "user/signed-up", "a_b", "*", "order.*", "user.profile.*"])).toEqual([]);
  });

  it("refuses an empty list", () => {
    expect(eventTypeProblems([])).toEqual(['event_types: at least one event type is required (use "*" for all)']);
  });

  it("names each type with bad characters", () => {
    const problems = eventTypeProblems(["ok.type", "has space", "semi;colon", "", "*.created"]);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain("'has space'");
    expect(problems[1]).toContain("'semi;colon'");
    expect(problems[2]).toContain("''");
    expect(problems[3]).toContain("'*.created'");
  });

  it("refuses a pattern anywhere but at the end after a dot", () => {
    expect(eventTypeProblems(["order*", "order.*.paid", ".*", "order.**"])).toHaveLength(4);
  });

  it("refuses a type longer than 128 characters", () => {
    expect(eventTypeProblems(["a".repeat(128)])).toEqual([]);
    expect(eventTypeProblems(["a".repeat(129)])).toHaveLength(1);
  });

  it("refuses more types than the limit", () => {
    const types = Array.from({ length: MAX_EVENT_TYPES + 1 }, (_, i) => `t${i}`);
    expect(eventTypeProblems(types)).toEqual([`event_types: at most ${MAX_EVENT_TYPES} event types`]);
    expect(eventTypeProblems(types.slice(1))).toEqual([]);
  });

  it("uses the field name it is given", () => {
    expect(eventTypeProblems([], "filter_types")[0]).toStartWith("filter_types:");
  });
});

describe("headerProblems", () => {
  it("accepts ordinary custom headers", () => {
    expect(headerProblems({ "X-Api-Key": "secret", Authorization: "Bearer abc", "x-trace": "a\tb" })).toEqual([]);
  });

  it("refuses a bad header name", () => {
    expect(headerProblems({ "bad name": "v" })).toEqual(["headers: 'bad name' is not a valid header name"]);
    expect(headerProblems({ "x:y": "v" })).toHaveLength(1);
    expect(headerProblems({ "": "v" })).toHaveLength(1);
  });

  it("refuses the headers hookrelay sets itself, in any case", () => {
    for (const name of ["webhook-signature", "Webhook-Signature", "webhook-id", "webhook-timestamp", "content-type", "Content-Type", "host"]) {
      const problems = headerProblems({ [name]: "x" });
      expect(problems).toEqual([`headers: '${name}' is set by hookrelay and cannot be overridden`]);
    }
  });

  it("refuses control characters in a value", () => {
    for (const value of ["a\r\nInjected: yes", "a\nb", "nul\u0000", "del\u007f"]) {
      expect(headerProblems({ "x-custom": value })).toEqual(["headers: the value of 'x-custom' must be a string without control characters, at most 1024 long"]);
    }
  });

  it("refuses a value longer than 1024 characters", () => {
    expect(headerProblems({ "x-long": "a".repeat(1024) })).toEqual([]);
    expect(headerProblems({ "x-long": "a".repeat(1025) })).toHaveLength(1);
  });

  it("refuses a value that is not a string", () => {
    expect(headerProblems({ "x-num": 5 as unknown as string })).toHaveLength(1);
  });

  it("refuses more headers than the limit", () => {
    const headers = Object.fromEntries(Array.from({ length: MAX_HEADERS + 1 }, (_, i) => [`x-h${i}`, "v"]));
    expect(headerProblems(headers)).toEqual([`headers: at most ${MAX_HEADERS} headers`]);
    delete headers["x-h0"];
    expect(headerProblems(headers)).toEqual([]);
  });

  it("lists every bad header, not just the first", () => {
    expect(headerProblems({ "bad name": "v", "webhook-id": "x", "x-ok": "a\nb" })).toHaveLength(3);
  });
});

describe("assertNoProblems", () => {
  it("throws one ValidationError carrying every problem", () => {
    let thrown: unknown;
    try {
      assertNoProblems(["a: bad", "b: worse"]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).details).toEqual(["a: bad", "b: worse"]);
    expect((thrown as ValidationError).status).toBe(422);
  });

  it("does nothing when there are no problems", () => {
    expect(() => assertNoProblems([])).not.toThrow();
  });
});
