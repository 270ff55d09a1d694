/**
 * @module Dot paths into an event as its webhooks receive it (`{"id","type","source","data","timestamp"}`):
 * what an ordering key (domain/ordering.ts) and a payload filter (domain/filter.ts) name.
 * `data.customer.id` walks objects; a segment of digits indexes an array (`data.items.0.sku`).
 */

/** Segments of a path at most, and the characters of one. */
export const MAX_PATH_SEGMENTS = 8;
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const INDEX = /^(0|[1-9][0-9]{0,5})$/;
/** The top-level fields of an event a path may start from. */
export const PATH_ROOTS: ReadonlySet<string> = new Set(["id", "type", "source", "data", "timestamp"]);

/** Problems with a path, as messages naming it after `where`; empty when it is fine. */
export function eventPathProblems(path: string, where: string): string[] {
  const segments = path.split(".");
  if (segments.length > MAX_PATH_SEGMENTS) return [`${where}: '${path}' has more than ${MAX_PATH_SEGMENTS} segments`];
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) return [`${where}: '${path}' is not a dot path of names (letters, digits, _ and -, at most 64 each): '${bad}'`];
  if (!PATH_ROOTS.has(segments[0]!)) return [`${where}: '${path}' must start with one of ${[...PATH_ROOTS].join(", ")} (e.g. data.account_id)`];
  return [];
}

/** A path's segments with each array index read once: what `valueAt` walks (no parsing per event). */
export type CompiledPath = readonly (string | number)[];

export function compilePath(path: string): CompiledPath {
  return path.split(".").map((s) => (INDEX.test(s) ? Number(s) : s));
}

/**
 * The value at `path` in `doc`, or undefined when there is none: an object's own field by name,
 * an array's element by index (a name on an array finds nothing).
 */
export function valueAt(doc: unknown, path: CompiledPath): unknown {
  let value = doc;
  for (let i = 0; i < path.length; i++) {
    if (value === null || typeof value !== "object") return undefined;
    const segment = path[i]!;
    if (Array.isArray(value)) {
      if (typeof segment !== "number") return undefined;
      value = value[segment];
    } else {
      // An own field only: `constructor` or `__proto__` in a path must not reach Object.prototype.
      value = Object.hasOwn(value, segment) ? (value as Record<string | number, unknown>)[segment] : undefined;
    }
  }
  return value;
}
