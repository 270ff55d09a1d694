/**
 * @module Payload filters: a webhook receives an event of a type it subscribes to only when the
 * event, as delivered (`{"id","type","source","data","timestamp"}`), passes its filter.
 *
 * A filter is a JSON object of conditions, all of which must hold:
 *
 * - `"data.amount": {"$gte": 100}`: a dot path (domain/event-path.ts) and operators on its value:
 *   `$eq $neq $gt $gte $lt $lte $in $nin $exists $regex $contains`, and `$not` of operators
 *   (`$contains`: an array holding an element equal to the operand, e.g. `"data.tags": {"$contains": "vip"}`);
 * - `"data.currency": "EUR"`: a path and a plain value, the same as `{"$eq": "EUR"}`;
 * - `"$and": [filters]`, `"$or": [filters]`, `"$not": filter`.
 *
 * A filter is checked and compiled once, when its webhook is read (`compileFilter`): to closures
 * over the paths' segments and the operands, so testing an event allocates nothing. `$regex`
 * runs on RE2 (the re2js package, linear in the text): a backtracking RegExp given by a
 * customer could stall the dispatcher for everyone on one crafted event.
 */
import { RE2JS } from "re2js";
import { compilePath, eventPathProblems, valueAt } from "./event-path.ts";

/** A filter as its owner wrote it (JSON). */
export type Filter = { [key: string]: unknown };

/** Whether an event (parsed from its payload) passes a filter. */
export type FilterPredicate = (event: unknown) => boolean;

/** The bounds of one filter: its JSON size, its nesting, its conditions, and each operand. */
export const FILTER_LIMITS = {
  bytes: 16_384,
  /** `$and`/`$or`/`$not` within each other, and objects or arrays within a value. */
  depth: 8,
  /** Conditions (one per operator, or per path with a plain value) in the whole filter. */
  conditions: 64,
  /** Filters in one `$and` or `$or`. */
  branches: 32,
  /** Values in one `$in` or `$nin`. */
  values: 256,
  /** Characters in one `$regex`. */
  regex: 256,
} as const;

const VALUE_OPERATORS = ["$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$contains", "$not"] as const;
const LOGICAL_OPERATORS = ["$and", "$or", "$not"] as const;

type Test = (value: unknown) => boolean;

const never: Test = () => false;

function allOf<T>(tests: ((x: T) => boolean)[]): (x: T) => boolean {
  if (tests.length === 1) return tests[0]!;
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(x)) return false;
    return true;
  };
}

function anyOf<T>(tests: ((x: T) => boolean)[]): (x: T) => boolean {
  if (tests.length === 1) return tests[0]!;
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(x)) return true;
    return false;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether `actual` is the same JSON value as `expected`, walking only `expected`'s shape (no allocation). */
export function jsonEqual(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== "object") return actual === expected;
  if (actual === null || typeof actual !== "object") return false;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (!jsonEqual(actual[i], expected[i])) return false;
    return true;
  }
  if (Array.isArray(actual)) return false;
  let fields = 0;
  for (const key in actual) if (Object.hasOwn(actual, key)) fields++;
  let expectedFields = 0;
  for (const key in expected) {
    if (!Object.hasOwn(expected, key)) continue;
    expectedFields++;
    if (!Object.hasOwn(actual, key) || !jsonEqual((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key])) return false;
  }
  return fields === expectedFields;
}

/** How deep a JSON value nests (a scalar: 0). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  let deepest = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value)) deepest = Math.max(deepest, depthOf(item));
  return 1 + deepest;
}

/** One pass over a filter: its problems (each naming where), and its predicate when it has none. */
class FilterCompiler {
  readonly problems: string[] = [];
  private conditions = 0;

  filter(node: unknown, where: string, depth: number): FilterPredicate {
    if (!isObject(node)) return this.problem(`${where}: must be an object of paths and conditions (or $and, $or, $not)`);
    if (depth > FILTER_LIMITS.depth) return this.problem(`${where}: $and, $or and $not nest more than ${FILTER_LIMITS.depth} deep`);
    const parts: FilterPredicate[] = [];
    for (const [key, condition] of Object.entries(node)) {
      if (key.startsWith("$")) parts.push(this.logical(key, condition, where, depth));
      else parts.push(this.path(key, condition, `${where}.${key}`));
    }
    return parts.length === 0 ? () => true : allOf(parts);
  }

  private logical(operator: string, operand: unknown, where: string, depth: number): FilterPredicate {
    const at = `${where}.${operator}`;
    if (operator === "$not") {
      const inner = this.filter(operand, at, depth + 1);
      return (event) => !inner(event);
    }
    if (operator !== "$and" && operator !== "$or")
      return this.problem(`${where}: unknown operator '${operator}' (at the top of a filter: ${LOGICAL_OPERATORS.join(", ")}; on a path: ${VALUE_OPERATORS.join(", ")})`);
    if (!Array.isArray(operand) || operand.length === 0 || operand.length > FILTER_LIMITS.branches) return this.problem(`${at}: must be an array of 1 to ${FILTER_LIMITS.branches} filters`);
    const branches = operand.map((branch, i) => this.filter(branch, `${at}[${i}]`, depth + 1));
    return operator === "$and" ? allOf(branches) : anyOf(branches);
  }

  private path(path: string, condition: unknown, where: string): FilterPredicate {
    const problems = eventPathProblems(path, where);
    if (problems.length > 0) return this.problem(...problems);
    const segments = compilePath(path);
    const test = this.condition(condition, where);
    return (event) => test(valueAt(event, segments));
  }

  /** A path's condition: an object of operators, or a plain value to equal. */
  private condition(condition: unknown, where: string): Test {
    if (isObject(condition)) {
      const keys = Object.keys(condition);
      const operators = keys.filter((k) => k.startsWith("$"));
      if (operators.length > 0 && operators.length < keys.length)
        return this.problem(`${where}: mixes operators (${operators.join(", ")}) with fields (${keys.filter((k) => !k.startsWith("$")).join(", ")}); put a plain object to equal under $eq`);
      if (operators.length > 0) return allOf(operators.map((op) => this.operator(op, condition[op], where)));
    }
    return this.operator("$eq", condition, where);
  }

  private operator(op: string, operand: unknown, where: string): Test {
    const at = `${where}.${op}`;
    // `$not` counts as what it negates.
    if (op !== "$not" && ++this.conditions === FILTER_LIMITS.conditions + 1) this.problem(`filter: more than ${FILTER_LIMITS.conditions} conditions`);
    switch (op) {
      case "$eq":
      case "$neq": {
        if (!this.plainValue(operand, at)) return never;
        const equal = equalTo(operand);
        return op === "$eq" ? equal : (v) => !equal(v);
      }
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        if (typeof operand !== "number" && typeof operand !== "string") return this.problem(`${at}: must be a number or a string (strings compare by code unit, ISO times in time order)`);
        return compareWith(op, operand);
      case "$in":
      case "$nin": {
        if (!Array.isArray(operand) || operand.length === 0 || operand.length > FILTER_LIMITS.values) return this.problem(`${at}: must be an array of 1 to ${FILTER_LIMITS.values} values`);
        if (!operand.every((v, i) => this.plainValue(v, `${at}[${i}]`))) return never;
        const member = memberOf(operand);
        return op === "$in" ? member : (v) => !member(v);
      }
      case "$exists":
        if (typeof operand !== "boolean") return this.problem(`${at}: must be true or false`);
        return operand ? (v) => v !== undefined : (v) => v === undefined;
      case "$regex":
        return this.regex(operand, at);
      case "$contains": {
        if (!this.plainValue(operand, at)) return never;
        const equal = equalTo(operand);
        return (v) => {
          if (!Array.isArray(v)) return false;
          for (let i = 0; i < v.length; i++) if (equal(v[i])) return true;
          return false;
        };
      }
      case "$not": {
        if (!isObject(operand) || !Object.keys(operand).every((k) => k.startsWith("$")) || Object.keys(operand).length === 0)
          return this.problem(`${at}: must be an object of operators, e.g. {"$in": ["a", "b"]}`);
        const inner = this.condition(operand, at);
        return (v) => !inner(v);
      }
      default:
        return this.problem(`${where}: unknown operator '${op}' (one of ${VALUE_OPERATORS.join(", ")})`);
    }
  }

  private regex(pattern: unknown, at: string): Test {
    if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > FILTER_LIMITS.regex)
      return this.problem(`${at}: must be a regular expression of 1 to ${FILTER_LIMITS.regex} characters`);
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(pattern);
    } catch (err) {
      return this.problem(`${at}: '${pattern}' is not an RE2 regular expression (${(err as Error).message})`);
    }
    return (v) => typeof v === "string" && compiled.test(v);
  }

  /** Whether an operand to equal is within bounds (its nesting); reports it if not. */
  private plainValue(value: unknown, at: string): boolean {
    if (depthOf(value) <= FILTER_LIMITS.depth) return true;
    this.problem(`${at}: a value nests more than ${FILTER_LIMITS.depth} deep`);
    return false;
  }

  private problem(...messages: string[]): Test {
    this.problems.push(...messages);
    return never;
  }
}

function equalTo(expected: unknown): Test {
  if (expected === null || typeof expected !== "object") return (v) => v === expected;
  return (v) => jsonEqual(v, expected);
}

function compareWith(op: "$gt" | "$gte" | "$lt" | "$lte", bound: number | string): Test {
  const kind = typeof bound;
  switch (op) {
    case "$gt":
      return (v) => typeof v === kind && (v as number | string) > bound;
    case "$gte":
      return (v) => typeof v === kind && (v as number | string) >= bound;
    case "$lt":
      return (v) => typeof v === kind && (v as number | string) < bound;
    case "$lte":
      return (v) => typeof v === kind && (v as number | string) <= bound;
  }
}

/** Membership in a list: a set of its scalars, and a scan of its objects and arrays. */
function memberOf(values: unknown[]): Test {
  const scalars = new Set(values.filter((v) => v === null || typeof v !== "object"));
  const structured = values.filter((v) => v !== null && typeof v === "object");
  if (structured.length === 0) return (v) => scalars.has(v);
  return (v) => {
    if (v === null || typeof v !== "object") return scalars.has(v);
    for (let i = 0; i < structured.length; i++) if (jsonEqual(v, structured[i])) return true;
    return false;
  };
}

/** A filter's problems, each naming the operator or path at fault (`field.…`); empty when it is fine. */
export function filterProblems(filter: unknown, field = "filter"): string[] {
  return parseFilter(filter, field).problems;
}

function parseFilter(filter: unknown, field: string): { predicate: FilterPredicate; problems: string[] } {
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(filter) ?? "");
  } catch {
    return { predicate: never, problems: [`${field}: must be JSON`] };
  }
  if (size > FILTER_LIMITS.bytes) return { predicate: never, problems: [`${field}: ${size} bytes of JSON, more than ${FILTER_LIMITS.bytes}`] };
  const compiler = new FilterCompiler();
  const predicate = compiler.filter(filter, field, 1);
  return { predicate, problems: compiler.problems };
}

/** A filter as a predicate, compiled once; throws on a filter with problems (stored filters were checked when set). */
export function compileFilter(filter: Filter): FilterPredicate {
  const { predicate, problems } = parseFilter(filter, "filter");
  if (problems.length > 0) throw new Error(`invalid filter: ${problems.join("; ")}`);
  return predicate;
}
