/**
 * @module JSON Schema (2020-12) for schemas that customers write (the event type catalog): checked
 * and compiled with Ajv, each regular expression on RE2 (re2js, linear in the text), since a
 * backtracking `pattern` of one customer's schema could stall ingest for every customer on one
 * crafted event. No `$ref` leaves the schema (none is fetched), and unknown keywords and formats are
 * refused when the schema is set, not ignored.
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { RE2JS } from "re2js";

/** Ajv's regular expression engine: RE2's, behind RegExp's `test`. */
const re2 = Object.assign(
  (pattern: string) => {
    const compiled = RE2JS.compile(pattern);
    // Ajv keys compiled patterns by their text: one per pattern, not one for all.
    return { test: (text: string) => compiled.test(text), toString: () => `re2:${pattern}` };
  },
  { code: "re2" },
);

/** A fresh validator factory: schemas compiled on one register their `$id`s, so each catalog gets its own. */
export function schemaCompiler(): { compile(schema: object): ValidateFunction } {
  // Strict about what would be silently ignored (unknown keywords and formats), not about style
  // (a `required` property without its own schema, `properties` without `type`): valid JSON Schema.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, strictTypes: false, strictTuples: false, logger: false, allErrors: false, code: { regExp: re2 } });
  addFormats(ajv, { mode: "fast" });
  return { compile: (schema) => ajv.compile(schema) };
}

/** Why a schema cannot be used (Ajv's message), or null when it compiles. */
export function schemaProblem(schema: object): string | null {
  try {
    schemaCompiler().compile(schema);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The first error of a failed validation as `<where>.<path>: <message>` (`data.amount: must be >= 0`). */
export function firstError(errors: ErrorObject[] | null | undefined, where: string): string {
  const error = errors?.[0];
  if (!error) return `${where}: does not match the schema`;
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"))
    .join(".");
  const detail = error.keyword === "additionalProperties" ? ` ('${(error.params as { additionalProperty: string }).additionalProperty}')` : "";
  return `${path ? `${where}.${path}` : where}: ${error.message ?? "is not valid"}${detail}`;
}
