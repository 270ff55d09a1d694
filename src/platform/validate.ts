/** @module Compiled TypeBox validation with every problem named by its field. */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ValueErrorType } from "@sinclair/typebox/value";
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
      for (const error of check.Errors(value)) {
        const field = error.path.replace(/^\//, "").replaceAll("/", ".");
        const name = field ? `${where === "body" ? "" : `${where}.`}${field}` : where;
        const message =
          error.type === ValueErrorType.ObjectAdditionalProperties
            ? "is not a known field"
            : (error.schema.errorMessage ?? error.message.replace(/^Expected/, "expected"));
        problems.push(`${name}: ${message}`);
        if (problems.length >= 20) break;
      }
      const unique = [...new Set(problems)];
      throw new ValidationError(unique.join("; "), unique);
    },
  };
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
