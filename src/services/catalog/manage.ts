/**
 * @module The event type catalog: each customer's event types, with a description, an optional JSON
 * Schema of their events' `data` (ingest refuses an event that does not satisfy it: schemas.ts) and
 * examples (each valid by the schema; the first is what a test send sends).
 */
import { Type } from "@sinclair/typebox";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import { isTypePattern } from "../../domain/match.ts";
import type { EventType, Page } from "../../domain/model.ts";
import type { Clock, EventTypes, Store } from "../../domain/ports.ts";
import { assertNoProblems, eventTypeProblems } from "../../domain/webhook-rules.ts";
import { firstError, schemaCompiler, schemaProblem } from "../../platform/json-schema.ts";
import { compile } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";
import { LimitExceededError } from "../webhooks/limits.ts";

/** The bounds of a catalog: event types per customer, and the size of one's schema and examples (JSON). */
export const CATALOG_LIMITS = { eventTypes: 1000, schemaBytes: 65_536, examples: 10, examplesBytes: 65_536, description: 1024 } as const;

export interface CatalogDeps {
  store: Store;
  clock: Clock;
  /** Told of every change, so this process's ingest checks events against it at once (schemas.ts). */
  onCatalogChange?: (customerId: string) => void;
}

const fields = {
  description: Type.String({
    maxLength: CATALOG_LIMITS.description,
    description: "what an event of this type means; at most 1024 characters",
    errorMessage: "must be a string of at most 1024 characters",
  }),
  schema: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
    description:
      "a JSON Schema (2020-12) that every event of this type's `data` must satisfy: ingest refuses one that does not with 422, naming where. Regular expressions are RE2; no $ref outside the schema; unknown keywords and formats are refused. At most 64 KiB. null: any data",
    errorMessage: "must be a JSON Schema object, or null",
  }),
  examples: Type.Array(Type.Unknown(), {
    maxItems: CATALOG_LIMITS.examples,
    description: "examples of the data (at most 10, 64 KiB in all), each valid by the schema; a test send sends the first",
    errorMessage: "must be an array of at most 10 examples of the data",
  }),
};

export const EventTypeInputSchema = Type.Object(
  {
    name: Type.String({ description: "the type's name, as events carry it in `type` (letters, digits and _ . : - /, at most 128)", errorMessage: "must be an event type name" }),
    description: Type.Optional(fields.description),
    schema: Type.Optional(fields.schema),
    examples: Type.Optional(fields.examples),
  },
  { additionalProperties: false, errorMessage: "must be an object with name, and optionally description, schema and examples" },
);

export const EventTypePatchSchema = Type.Partial(Type.Object(fields), { additionalProperties: false, errorMessage: "must be an object with description, schema or examples" });

const createInput = compile(EventTypeInputSchema);
const patchInput = compile(EventTypePatchSchema);

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "");

/** Problems with a schema and its examples together: the schema compiles, and each example satisfies it. */
function contentProblems(schema: Record<string, unknown> | null, examples: unknown[]): string[] {
  if (schema !== null && bytes(schema) > CATALOG_LIMITS.schemaBytes) return [`schema: ${bytes(schema)} bytes of JSON, more than ${CATALOG_LIMITS.schemaBytes}`];
  if (bytes(examples) > CATALOG_LIMITS.examplesBytes) return [`examples: ${bytes(examples)} bytes of JSON, more than ${CATALOG_LIMITS.examplesBytes}`];
  if (schema === null) return [];
  const problem = schemaProblem(schema);
  if (problem) return [`schema: ${problem}`];
  const validate = schemaCompiler().compile(schema);
  return examples.flatMap((example, i) => (validate(example) ? [] : [firstError(validate.errors, `examples[${i}]`)]));
}

function nameProblems(name: string): string[] {
  if (isTypePattern(name)) return [`name: '${name}' is a pattern; an event type has one name (e.g. order.created)`];
  return eventTypeProblems([name], "name");
}

export async function createEventType(deps: CatalogDeps, principal: Principal, raw: unknown): Promise<EventType> {
  const input = createInput.parse(raw);
  const schema = input.schema ?? null;
  const examples = input.examples ?? [];
  assertNoProblems([...nameProblems(input.name), ...contentProblems(schema, examples)]);
  const existing = await deps.store.eventTypes.list(principal.customerId, CATALOG_LIMITS.eventTypes);
  if (existing.data.length >= CATALOG_LIMITS.eventTypes) throw new LimitExceededError(`a customer's catalog holds at most ${CATALOG_LIMITS.eventTypes} event types; delete one first`);
  const now = new Date(deps.clock.now()).toISOString();
  const eventType: EventType = { customerId: principal.customerId, name: input.name, description: input.description ?? "", schema, examples, createdAt: now, updatedAt: now };
  if (!(await deps.store.eventTypes.create(eventType)))
    throw new ConflictError(`event type '${input.name}' already exists; change it with PATCH /api/v1/event-types/${encodeURIComponent(input.name)}`);
  deps.onCatalogChange?.(principal.customerId);
  return eventType;
}

export async function getEventType(deps: Pick<CatalogDeps, "store">, principal: Principal, name: string): Promise<EventType> {
  const eventType = await deps.store.eventTypes.get(principal.customerId, name);
  if (!eventType) throw new NotFoundError("event type", name);
  return eventType;
}

export function listEventTypes(deps: Pick<CatalogDeps, "store">, principal: Principal, limit: number, cursor?: string): Promise<Page<EventType>> {
  return deps.store.eventTypes.list(principal.customerId, limit, cursor);
}

/** Changes what the patch names; a new schema must accept the examples kept, and new examples the schema kept. */
export async function updateEventType(deps: CatalogDeps, principal: Principal, name: string, raw: unknown): Promise<EventType> {
  const patch = patchInput.parse(raw);
  const current = await getEventType(deps, principal, name);
  const updated: EventType = {
    ...current,
    description: patch.description ?? current.description,
    schema: patch.schema !== undefined ? patch.schema : current.schema,
    examples: patch.examples ?? current.examples,
    updatedAt: new Date(deps.clock.now()).toISOString(),
  };
  assertNoProblems(contentProblems(updated.schema, updated.examples));
  if (!(await deps.store.eventTypes.update(updated))) throw new NotFoundError("event type", name);
  deps.onCatalogChange?.(principal.customerId);
  return updated;
}

/** Removes it from the catalog: its events are no longer checked; webhooks subscribed to it keep their subscription. */
export async function deleteEventType(deps: CatalogDeps, principal: Principal, name: string): Promise<void> {
  if (!(await deps.store.eventTypes.delete(principal.customerId, name))) throw new NotFoundError("event type", name);
  deps.onCatalogChange?.(principal.customerId);
}

/** The customer's whole catalog (it is bounded: CATALOG_LIMITS.eventTypes). */
export async function wholeCatalog(eventTypes: Pick<EventTypes, "list">, customerId: string): Promise<EventType[]> {
  const all: EventType[] = [];
  let cursor: string | undefined;
  do {
    const page = await eventTypes.list(customerId, CATALOG_LIMITS.eventTypes, cursor);
    all.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}
