/** @module Compiled TypeBox validation with every problem named by its field. */
import type { Static, TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/value";
import { ValidationError } from "../domain/errors.ts";

export interface Validator<T extends TSchema> {
  /** The value typed, or a ValidationError listing every problem (field: message). */
  parse(value: unknown, where?: string): Static<T>;
}

export function compile<T extends TSchema>(schema: T): Validator<T> {
  const check: TypeCheck<T> = TypeCompiler.Compile(schema);
  return {
    parse(value, where = "body") {
      if (check.Check(value)) return value;
      throw invalid(check.Errors(value), where);
    },
  };
}

/**
 * A ValidationError listing every problem (`field: message`, at most 20): for this module's
 * validators and for Elysia's route validation alike. A coerced query value's problem may come
 * without a path; its schema's `title` names it then.
 */
export function invalid(errors: Iterable<ValueError>, where = "body"): ValidationError {
  const problems: string[] = [];
  // TypeBox reports a missing field twice: missing, then not of its type (it checks undefined
  // against the field's schema). Missing is the one problem; the rest for that field is dropped.
  const missing = new Set<string>();
  for (const error of errors) {
    if (missing.has(error.path)) continue;
    // Elysia's model validators report a missing field as "not of its type" alone: its value is undefined.
    const absent = error.type === ValueErrorType.ObjectRequiredProperty || (error.value === undefined && error.path !== "" && "value" in error);
    if (absent) missing.add(error.path);
    const field = error.path.replace(/^\//, "").replaceAll("/", ".") || ((error.schema.title as string | undefined) ?? "");
    const name = field ? `${where === "body" ? "" : `${where}.`}${field}` : where;
    problems.push(`${name}: ${absent ? required(error) : messageOf(error)}`);
    if (problems.length >= 20) break;
  }
  const unique = [...new Set(problems)];
  return new ValidationError(unique.join("; "), unique);
}

/** A missing field in words: "is required", with the schema's own message where it has one. */
function required(error: ValueError): string {
  const own = error.schema.errorMessage as string | undefined;
  if (own === undefined) return "is required";
  return own.startsWith("is required") ? own : `is required (${own})`;
}

/** A problem in words: the schema's own message where it has one, said as "is required" for a missing field. */
function messageOf(error: ValueError): string {
  const own = error.schema.errorMessage as string | undefined;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return "is not a known field";
  return own ?? error.message.replace(/^Expected/, "expected");
}

/** An RFC 3339 time of a request as ms; 422 naming the field when it is not one. */
export function timeOf(value: string, name: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ValidationError(`${name}: must be an RFC 3339 date-time, e.g. 2026-12-05T09:00:00Z`);
  return ms;
}
