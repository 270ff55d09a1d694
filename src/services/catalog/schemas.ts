/**
 * @module Ingest's check of events against their type's schema (the catalog, manage.ts): each
 * customer's schemas are compiled once and kept, read again in the background once they are
 * `refreshMs` old (a change made through this process applies at once; one made through another
 * within `refreshMs`). A request waits for a read only for the first event of a customer.
 */
import type { ValidateFunction } from "ajv/dist/2020.js";
import { ValidationError } from "../../domain/errors.ts";
import type { Event } from "../../domain/model.ts";
import type { EventTypes } from "../../domain/ports.ts";
import { firstError, schemaCompiler } from "../../platform/json-schema.ts";
import type { Logger } from "../../platform/logger.ts";
import { wholeCatalog } from "./manage.ts";

/** Customers whose schemas are kept at most; past it the least recently read is dropped. */
const MAX_CUSTOMERS = 10_000;

interface Catalog {
  /** When it was last read; null: never (yet). */
  readAt: number | null;
  /** The compiled schema of each typed event type of the customer. */
  validators: Map<string, ValidateFunction>;
  reading?: Promise<void>;
}

/** Checks an event's data against its type's schema; throws 422 naming the path (`where` is the event's place: "" or "events[3]."). */
export type EventCheck = (event: Event, where: string) => void;

export class EventSchemas {
  private readonly catalogs = new Map<string, Catalog>();

  constructor(
    private readonly eventTypes: Pick<EventTypes, "list">,
    private readonly log: Logger,
    private readonly refreshMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The check of one customer's events, with its schemas as last read (waiting only for the first read). */
  async checkerFor(customerId: string): Promise<EventCheck> {
    // The schemas as read now: a read finishing meanwhile does not change this request's checks.
    const { validators } = await this.catalog(customerId);
    if (validators.size === 0) return () => {};
    return (event, where) => {
      const validate = validators.get(event.type);
      if (!validate) return;
      const { data } = JSON.parse(event.payload) as { data: unknown };
      if (!validate(data)) throw new ValidationError(`${firstError(validate.errors, `${where}data`)} (the schema of event type '${event.type}')`);
    };
  }

  /** The customer's catalog changed here: read it again before the next check. */
  changed(customerId: string): void {
    this.catalogs.delete(customerId);
  }

  private async catalog(customerId: string): Promise<Catalog> {
    let catalog = this.catalogs.get(customerId);
    if (!catalog) {
      catalog = { readAt: null, validators: new Map() };
      this.remember(customerId, catalog);
    }
    if (catalog.readAt === null) {
      // Never read (or its first read failed): this request waits for it, as do those arriving meanwhile.
      await this.read(customerId, catalog);
    } else if (this.now() - catalog.readAt >= this.refreshMs) {
      // Stale: read again in the background; this request checks with what was read last.
      this.read(customerId, catalog).catch((err) => this.log.warn({ err, customerId }, "could not read the event type catalog again; checking with the last read"));
    }
    return catalog;
  }

  private read(customerId: string, catalog: Catalog): Promise<void> {
    catalog.reading ??= (async () => {
      try {
        const types = await wholeCatalog(this.eventTypes, customerId);
        const shared = schemaCompiler();
        const ids = new Set<unknown>();
        const validators = new Map<string, ValidateFunction>();
        for (const type of types) {
          if (!type.schema) continue;
          // A compiler keeps the schemas it compiled by `$id`: a second schema with one already seen
          // would get the first's validator, so it gets a compiler of its own.
          const id = type.schema.$id;
          const compiler = id !== undefined && ids.has(id) ? schemaCompiler() : shared;
          ids.add(id);
          try {
            validators.set(type.name, compiler.compile(type.schema));
          } catch (err) {
            this.log.warn({ err, customerId, eventType: type.name }, "an event type's schema does not compile: its events are not checked");
          }
        }
        catalog.validators = validators;
        catalog.readAt = this.now();
      } finally {
        catalog.reading = undefined;
      }
    })();
    return catalog.reading;
  }

  private remember(customerId: string, catalog: Catalog): void {
    if (this.catalogs.size >= MAX_CUSTOMERS) this.catalogs.delete(this.catalogs.keys().next().value!);
    this.catalogs.set(customerId, catalog);
  }
}
