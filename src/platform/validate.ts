/** @module Compiled TypeBox validation with every problem named by its field. */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
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
      const problems: string[] = [];
      // TypeBox reports a missing field twice: missing, then not of its type (it checks undefined
      // against the field's schema). Missing is the one problem; the rest for that field is dropped.
      const missing = new Set<string>();
      for (const error of check.Errors(value)) {
        if (missing.has(error.path)) continue;
        if (error.type === ValueErrorType.ObjectRequiredProperty) missing.add(error.path);
        const field = error.path.replace(/^\//, "").replaceAll("/", ".");
        const name = field ? `${where === "body" ? "" : `${where}.`}${field}` : where;
        problems.push(`${name}: ${messageOf(error)}`);
        if (problems.length >= 20) break;
      }
      const unique = [...new Set(problems)];
      throw new ValidationError(unique.join("; "), unique);
    },
  };
}

/** A problem in words: the schema's own message where it has one, said as "is required" for a missing field. */
function messageOf(error: ValueError): string {
  const own = error.schema.errorMessage as string | undefined;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return "is not a known field";
  if (error.type === ValueErrorType.ObjectRequiredProperty) {
    if (own === undefined) return "is required";
    return own.startsWith("is required") ? own : `is required (${own})`;
  }
  return own ?? error.message.replace(/^Expected/, "expected");
}

/** Query strings arrive as text: digits are turned into numbers where the schema wants a number. */
export function coerceQuery(schema: TObject, query: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...query };
  for (const [name, value] of Object.entries(query)) {
    const type = (schema.properties[name] as TSchema | undefined)?.type;
    if ((type === "integer" || type === "number") && value !== undefined && /^-?\d+$/.test(value)) out[name] = Number(value);
  }
  return out;
}
