/** @module Customers' JSON Schemas: RE2 patterns (linear, and each its own), errors as paths, and what is refused when a schema is set. */
import { describe, expect, it } from "bun:test";
import { firstError, schemaCompiler, schemaProblem } from "./json-schema.ts";

describe("schemaCompiler", () => {
  it("runs a backtracking pattern in time linear in the text (RE2), so one event cannot stall ingest", () => {
    const validate = schemaCompiler().compile({ type: "string", pattern: "^(a|a)*b$" });
    expect(validate(`${"a".repeat(100_000)}c`)).toBe(false);
    expect(validate("aab")).toBe(true);
  });

  it("keeps each pattern its own: two patterns of one schema are not taken for one", () => {
    const validate = schemaCompiler().compile({ type: "object", properties: { a: { type: "string", pattern: "^x$" }, b: { type: "string", pattern: "^y$" } } });
    expect(validate({ a: "x", b: "y" })).toBe(true);
    expect(validate({ a: "x", b: "x" })).toBe(false);
    expect(validate({ a: "y", b: "y" })).toBe(false);
  });

  it("checks formats (ajv-formats)", () => {
    const validate = schemaCompiler().compile({ type: "string", format: "email" });
    expect([validate("a@example.com"), validate("nope")]).toEqual([true, false]);
  });
});

describe("schemaProblem", () => {
  it.each([
    ["an unknown keyword", { type: "object", colour: "red" }, 'strict mode: unknown keyword: "colour"'],
    ["an unknown format", { type: "string", format: "colour" }, 'unknown format "colour"'],
    ["a $ref to elsewhere (never fetched)", { $ref: "https://example.com/s.json" }, "can't resolve reference https://example.com/s.json"],
    ["a backreference RE2 lacks", { type: "string", pattern: "(a)\\1" }, "error parsing regexp"],
    ["a type that is none", { type: "colour" }, "must be equal to one of the allowed values"],
  ])("names %s", (_, schema, message) => {
    expect(schemaProblem(schema)).toContain(message);
  });

  it("is null for a schema that compiles, $refs within it included", () => {
    expect(schemaProblem({ $defs: { id: { type: "integer" } }, type: "object", properties: { id: { $ref: "#/$defs/id" } } })).toBeNull();
  });
});

describe("firstError", () => {
  it("names the path under `where`, with JSON Pointer escapes undone", () => {
    const validate = schemaCompiler().compile({ type: "object", properties: { "a/b": { type: "object", properties: { "c~d": { type: "array", items: { type: "integer" } } } } } });
    expect(validate({ "a/b": { "c~d": [1, "x"] } })).toBe(false);
    expect(firstError(validate.errors, "data")).toBe("data.a/b.c~d.1: must be integer");
  });

  it("names the field an additionalProperties refusal is about, and the root as `where`", () => {
    const validate = schemaCompiler().compile({ type: "object", additionalProperties: false });
    expect(validate({ extra: 1 })).toBe(false);
    expect(firstError(validate.errors, "events[2].data")).toBe("events[2].data: must NOT have additional properties ('extra')");
  });
});
