/** @module Payload filters: a table of cases, the problems a bad filter is refused with, and compiled filters against a reference evaluator (fast-check). */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { compileFilter, FILTER_LIMITS, type Filter, filterProblems } from "./filter.ts";

const event = (data: unknown, extra: Record<string, unknown> = {}) => ({ id: "evt_1", type: "invoice.paid", source: "billing", data, timestamp: "2026-12-05T10:00:00.000Z", ...extra });
const passes = (filter: Filter, doc: unknown) => compileFilter(filter)(doc);

describe("a filter", () => {
  const invoice = event({ amount: 250, currency: "EUR", customer: { id: "cus_1", tier: "gold" }, items: [{ sku: "A-1" }, { sku: "B-2" }], tags: ["vip", "eu"], note: null });
  it.each<[string, Filter, boolean]>([
    ["empty: every event", {}, true],
    ["a plain value equals", { "data.currency": "EUR" }, true],
    ["a plain value differs", { "data.currency": "USD" }, false],
    ["$eq on a nested path", { "data.customer.tier": { $eq: "gold" } }, true],
    ["$eq on a top-level field", { source: "billing", type: "invoice.paid" }, true],
    ["$eq an object, whole", { "data.customer": { id: "cus_1", tier: "gold" } }, true],
    ["$eq an object with a field less is not equal", { "data.customer": { id: "cus_1" } }, false],
    ["$eq an array, in order", { "data.tags": ["vip", "eu"] }, true],
    ["$eq an array, out of order", { "data.tags": ["eu", "vip"] }, false],
    ["$eq null matches null", { "data.note": null }, true],
    ["$eq null does not match a missing field", { "data.gone": null }, false],
    ["$neq a different value", { "data.currency": { $neq: "USD" } }, true],
    ["$neq a missing field", { "data.gone": { $neq: 1 } }, true],
    ["$gt", { "data.amount": { $gt: 249 } }, true],
    ["$gt at the bound", { "data.amount": { $gt: 250 } }, false],
    ["$gte at the bound", { "data.amount": { $gte: 250 } }, true],
    ["$lt", { "data.amount": { $lt: 250 } }, false],
    ["$lte at the bound", { "data.amount": { $lte: 250 } }, true],
    ["a range", { "data.amount": { $gte: 100, $lt: 1000 } }, true],
    ["$gt a string compares strings", { timestamp: { $gt: "2026-12-05T09:00:00.000Z" } }, true],
    ["$gt a number against a string: no", { "data.currency": { $gt: 1 } }, false],
    ["$gt on a missing field: no", { "data.gone": { $gt: 0 } }, false],
    ["$in", { "data.currency": { $in: ["USD", "EUR"] } }, true],
    ["$in none", { "data.currency": { $in: ["USD", "GBP"] } }, false],
    ["$in an object member", { "data.customer": { $in: [{ id: "cus_1", tier: "gold" }] } }, true],
    ["$nin", { "data.currency": { $nin: ["USD"] } }, true],
    ["$nin a missing field", { "data.gone": { $nin: ["x"] } }, true],
    ["$exists true", { "data.note": { $exists: true } }, true],
    ["$exists false on a missing field", { "data.gone": { $exists: false } }, true],
    ["$exists false on a present field", { "data.amount": { $exists: false } }, false],
    ["$regex finds", { "data.customer.id": { $regex: "^cus_[0-9]+$" } }, true],
    ["$regex with an inline flag", { "data.customer.tier": { $regex: "(?i)^GOLD$" } }, true],
    ["$regex on a number: no", { "data.amount": { $regex: "250" } }, false],
    ["$contains an element", { "data.tags": { $contains: "vip" } }, true],
    ["$contains none", { "data.tags": { $contains: "new" } }, false],
    ["$contains an object element", { "data.items": { $contains: { sku: "B-2" } } }, true],
    ["$contains on a string: no (that is $regex)", { "data.currency": { $contains: "E" } }, false],
    ["$contains on a missing field: no", { "data.gone": { $contains: 1 } }, false],
    ["$not $contains", { "data.tags": { $not: { $contains: "new" } } }, true],
    ["an array element by index", { "data.items.1.sku": "B-2" }, true],
    ["an index past the end", { "data.items.5.sku": { $exists: false } }, true],
    ["a name on an array finds nothing", { "data.items.sku": { $exists: true } }, false],
    ["no prototype through a path", { "data.constructor": { $exists: true } }, false],
    ["$not of operators", { "data.currency": { $not: { $in: ["USD", "GBP"] } } }, true],
    ["$and", { $and: [{ "data.amount": { $gt: 100 } }, { "data.currency": "EUR" }] }, true],
    ["$and with one false", { $and: [{ "data.amount": { $gt: 100 } }, { "data.currency": "USD" }] }, false],
    ["$or", { $or: [{ "data.currency": "USD" }, { "data.customer.tier": "gold" }] }, true],
    ["$or none", { $or: [{ "data.currency": "USD" }, { "data.customer.tier": "silver" }] }, false],
    ["$not of a filter", { $not: { "data.currency": "USD" } }, true],
    ["nested logic", { $or: [{ $and: [{ "data.amount": { $lt: 10 } }] }, { $not: { $or: [{ source: "crm" }, { "data.tags.0": "new" }] } }] }, true],
    ["paths and logic together, all must hold", { "data.currency": "EUR", $or: [{ "data.amount": 1 }] }, false],
  ])("%s", (_, filter, expected) => {
    expect(filterProblems(filter)).toEqual([]);
    expect(passes(filter, invoice)).toBe(expected);
  });

  it("data that is not an object has no fields", () => {
    expect(passes({ "data.a": { $exists: false } }, event("text"))).toBe(true);
    expect(passes({ data: "text" }, event("text"))).toBe(true);
  });

  it("runs a regular expression in time linear in the text (RE2): a backtracking pattern cannot stall it", () => {
    const evil = compileFilter({ "data.s": { $regex: "^(a|a)*b$" } });
    expect(evil(event({ s: `${"a".repeat(50_000)}c` }))).toBe(false);
    expect(evil(event({ s: "aab" }))).toBe(true);
  });
});

describe("a bad filter is refused, naming the operator or path", () => {
  it.each<[string, unknown, string]>([
    ["not an object", ["x"], "filter: must be an object of paths and conditions"],
    ["an unknown operator on a path", { "data.amount": { $gtx: 1 } }, "filter.data.amount: unknown operator '$gtx'"],
    ["an unknown operator at the top", { $xor: [] }, "filter: unknown operator '$xor'"],
    ["a path outside the event", { "body.amount": 1 }, "filter.body.amount: 'body.amount' must start with one of id, type, source, data, timestamp"],
    ["a bad segment", { "data.a b": 1 }, "'data.a b' is not a dot path of names"],
    ["too many segments", { "data.a.b.c.d.e.f.g.h": 1 }, "has more than 8 segments"],
    ["operators mixed with fields", { "data.x": { $eq: 1, y: 2 } }, "filter.data.x: mixes operators ($eq) with fields (y)"],
    ["$in not an array", { "data.x": { $in: "a" } }, "filter.data.x.$in: must be an array of 1 to 256 values"],
    ["$in empty", { "data.x": { $nin: [] } }, "filter.data.x.$nin: must be an array of 1 to 256 values"],
    ["$gt of an object", { "data.x": { $gt: {} } }, "filter.data.x.$gt: must be a number or a string"],
    ["$exists not a boolean", { "data.x": { $exists: 1 } }, "filter.data.x.$exists: must be true or false"],
    ["$regex not RE2 (a backreference)", { "data.x": { $regex: "(a)\\1" } }, "filter.data.x.$regex: '(a)\\1' is not an RE2 regular expression"],
    ["$regex a lookahead", { "data.x": { $regex: "(?=a)" } }, "is not an RE2 regular expression"],
    ["$regex too long", { "data.x": { $regex: "a".repeat(257) } }, "must be a regular expression of 1 to 256 characters"],
    ["$or not an array", { $or: { "data.x": 1 } }, "filter.$or: must be an array of 1 to 32 filters"],
    ["$or empty", { $or: [] }, "filter.$or: must be an array of 1 to 32 filters"],
    ["a branch not an object", { $or: [{ "data.x": 1 }, 2] }, "filter.$or[1]: must be an object"],
    ["a bad operator in a branch", { $and: [{ $or: [{ "data.x": { $like: "a" } }] }] }, "filter.$and[0].$or[0].data.x: unknown operator '$like'"],
    ["$not on a path of a plain value", { "data.x": { $not: 1 } }, "filter.data.x.$not: must be an object of operators"],
    ["too deep", { $not: { $not: { $not: { $not: { $not: { $not: { $not: { $not: { "data.x": 1 } } } } } } } } }, "nest more than 8 deep"],
    ["too many branches", { $or: Array.from({ length: 33 }, () => ({ "data.x": 1 })) }, "must be an array of 1 to 32 filters"],
    ["too many conditions", Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`data.f${i}`, i])), "filter: more than 64 conditions"],
    ["a value too deep", { "data.x": [[[[[[[[[1]]]]]]]]] }, "filter.data.x.$eq: a value nests more than 8 deep"],
    ["too big", { "data.x": { $in: Array.from({ length: 200 }, (_, i) => `${"v".repeat(90)}${i}`) } }, "bytes of JSON, more than 16384"],
  ])("%s", (_, filter, message) => {
    const problems = filterProblems(filter);
    expect(problems.join("; ")).toContain(message);
  });

  it("lists every problem at once", () => {
    expect(filterProblems({ "data.a": { $bad: 1 }, "nope.b": 2, $or: [] })).toHaveLength(3);
  });

  it("a compiled filter with problems throws instead of passing everything", () => {
    expect(() => compileFilter({ "data.a": { $bad: 1 } })).toThrow("unknown operator");
  });

  it("the bounds are those documented", () => {
    expect(FILTER_LIMITS).toEqual({ bytes: 16_384, depth: 8, conditions: 64, branches: 32, values: 256, regex: 256 });
  });
});

// ---- The reference: the filter's rules read straight off the JSON each time, by other means. ----

const canonical = (v: unknown): string =>
  v === null || typeof v !== "object"
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? `[${v.map(canonical).join(",")}]`
      : `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(",")}}`;
const same = (a: unknown, b: unknown) => a !== undefined && canonical(a) === canonical(b);

function lookUp(doc: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((value, segment) => {
    if (Array.isArray(value)) return /^\d+$/.test(segment) ? value[Number(segment)] : undefined;
    if (value !== null && typeof value === "object" && Object.keys(value).includes(segment)) return (value as Record<string, unknown>)[segment];
    return undefined;
  }, doc);
}

function referenceOperator(op: string, operand: unknown, value: unknown): boolean {
  const ordered = (cmp: (a: number | string, b: number | string) => boolean) =>
    typeof value === typeof operand && (typeof value === "number" || typeof value === "string") && cmp(value, operand as number | string);
  switch (op) {
    case "$eq":
      return same(value, operand);
    case "$neq":
      return !same(value, operand);
    case "$gt":
      return ordered((a, b) => a > b);
    case "$gte":
      return ordered((a, b) => a >= b);
    case "$lt":
      return ordered((a, b) => a < b);
    case "$lte":
      return ordered((a, b) => a <= b);
    case "$in":
      return (operand as unknown[]).some((o) => same(value, o));
    case "$nin":
      return !(operand as unknown[]).some((o) => same(value, o));
    case "$exists":
      return (value !== undefined) === operand;
    case "$contains":
      return Array.isArray(value) && value.some((element) => same(element, operand));
    case "$regex":
      // JavaScript's engine has no inline (?i): the flag instead.
      return typeof value === "string" && ((operand as string).startsWith("(?i)") ? new RegExp((operand as string).slice(4), "i") : new RegExp(operand as string)).test(value);
    case "$not":
      return !referenceCondition(operand, value);
  }
  throw new Error(`no such operator ${op}`);
}

function referenceCondition(condition: unknown, value: unknown): boolean {
  const isOperators = condition !== null && typeof condition === "object" && !Array.isArray(condition) && Object.keys(condition).length > 0 && Object.keys(condition).every((k) => k.startsWith("$"));
  if (!isOperators) return same(value, condition);
  return Object.entries(condition as Record<string, unknown>).every(([op, operand]) => referenceOperator(op, operand, value));
}

function reference(filter: Filter, doc: unknown): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === "$and") return (condition as Filter[]).every((f) => reference(f, doc));
    if (key === "$or") return (condition as Filter[]).some((f) => reference(f, doc));
    if (key === "$not") return !reference(condition as Filter, doc);
    return referenceCondition(condition, lookUp(doc, key));
  });
}

/** Conditions in a filter as the bound counts them: one per operator, or per path with a plain value. */
function conditionsOf(filter: Filter): number {
  const ofCondition = (c: unknown): number => {
    const isOperators = c !== null && typeof c === "object" && !Array.isArray(c) && Object.keys(c).length > 0 && Object.keys(c).every((k) => k.startsWith("$"));
    if (!isOperators) return 1;
    return Object.entries(c as Record<string, unknown>).reduce((n, [op, operand]) => n + (op === "$not" ? ofCondition(operand) : 1), 0);
  };
  return Object.entries(filter).reduce((n, [key, c]) => {
    if (key === "$and" || key === "$or") return n + (c as Filter[]).reduce((m, f) => m + conditionsOf(f), 0);
    if (key === "$not") return n + conditionsOf(c as Filter);
    return n + ofCondition(c);
  }, 0);
}

// ---- Generated filters and events over a small vocabulary, so that conditions hit as often as they miss. ----

const scalar = fc.constantFrom<unknown>(0, 1, 2, -1, 2.5, "a", "b", "ab", "B-2", "", true, false, null);
const value = fc.oneof({ weight: 4, arbitrary: scalar }, fc.constantFrom<unknown>({ k: 1 }, { k: 1, j: "a" }, [1, 2], [2, 1], [], {}));
const PATHS = ["data.a", "data.b", "data.n.k", "data.n.j", "data.list", "data.list.0", "data.list.1", "data.gone", "type", "source", "id"];
const path = fc.constantFrom(...PATHS);
const REGEXES = ["^a", "b$", "a|b", "^[A-Z]-[0-9]$", "(?i)^AB$", "x*", "^$", "[0-9]"];

const operator: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constantFrom("$eq", "$neq"), value),
  fc.tuple(fc.constantFrom("$gt", "$gte", "$lt", "$lte"), fc.constantFrom<unknown>(0, 1, 2, -1, 2.5, "a", "ab", "b", "")),
  fc.tuple(fc.constantFrom("$in", "$nin"), fc.array(value, { minLength: 1, maxLength: 4 })),
  fc.tuple(fc.constant("$exists"), fc.boolean()),
  fc.tuple(fc.constant("$regex"), fc.constantFrom(...REGEXES)),
  fc.tuple(fc.constant("$contains"), value),
);
const operators = fc.uniqueArray(operator, { minLength: 1, maxLength: 3, selector: ([op]) => op }).map((ops) => Object.fromEntries(ops));
const condition: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: value.filter((v) => v === null || typeof v !== "object" || Array.isArray(v) || Object.keys(v as object).length > 0) },
  { weight: 4, arbitrary: operators },
  { weight: 1, arbitrary: operators.map((ops) => ({ $not: ops })) },
);

const { filter: filterArb } = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { maxDepth: 5, depthSize: "small", withCrossShrink: true },
    fc.dictionary(path, condition, { minKeys: 0, maxKeys: 3 }),
    fc.record({ $and: fc.array(tie("filter"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie("filter"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $not: tie("filter") }),
  ),
}));

const dataArb = fc.record({ a: value, b: value, n: fc.oneof(fc.record({ k: value, j: value }, { requiredKeys: [] }), value), list: fc.array(value, { maxLength: 3 }) }, { requiredKeys: [] });
const eventArb = fc.record({
  id: fc.constantFrom("a", "evt_1"),
  type: fc.constantFrom("a", "ab", "b"),
  source: fc.constantFrom("b", "B-2", ""),
  data: fc.oneof({ weight: 5, arbitrary: dataArb }, value),
  timestamp: fc.constant("2026-12-05T10:00:00.000Z"),
});

describe("compiled filters against the reference evaluator", () => {
  it("every generated filter is valid, and decides every generated event as the reference does", () => {
    fc.assert(
      fc.property(filterArb, fc.array(eventArb, { minLength: 1, maxLength: 8 }), (filter, events) => {
        if (conditionsOf(filter) > FILTER_LIMITS.conditions) {
          expect(filterProblems(filter)).toEqual([`filter: more than ${FILTER_LIMITS.conditions} conditions`]);
          return;
        }
        expect(filterProblems(filter)).toEqual([]);
        const compiled = compileFilter(filter);
        for (const e of events) expect(compiled(e)).toBe(reference(filter, e));
      }),
      { numRuns: 3000 },
    );
  });

  it("the generator reaches both answers often (the property is not decided by one side)", () => {
    const answers = fc.sample(fc.tuple(filterArb, eventArb), 2000).map(([f, e]) => reference(f, e));
    const passing = answers.filter(Boolean).length;
    expect(passing).toBeGreaterThan(300);
    expect(answers.length - passing).toBeGreaterThan(300);
  });
});
