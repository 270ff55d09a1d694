/**
 * @module The one place that reads configuration: defaults, then `config.yaml`, then
 * `HOOKRELAY_<SECTION>_<KEY>` environment variables, validated by one TypeBox schema.
 */
import { existsSync, readFileSync } from "node:fs";
import { type Static, type TObject, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseCidr } from "../domain/address.ts";
import { DURATION_PATTERN, durationMs } from "./duration.ts";

const Duration = (value: string, description: string) => Type.String({ default: value, pattern: DURATION_PATTERN, description, duration: true });
const Port = (value: number, description: string) => Type.Integer({ default: value, minimum: 0, maximum: 65535, description });
const Int = (value: number, minimum: number, description: string) => Type.Integer({ default: value, minimum, description });
const Str = (value: string, description: string) => Type.String({ default: value, description });
const Bool = (value: boolean, description: string) => Type.Boolean({ default: value, description });
const section = <T extends Record<string, TSchema>>(props: T) => Type.Object(props, { additionalProperties: false, default: {} });

export const ConfigSchema = Type.Object(
  {
    server: section({
      host: Str("0.0.0.0", "address every role listens on"),
      gateway_port: Port(8080, "gateway: REST API, login, webhooks, deliveries"),
      registry_port: Port(8081, "registry: gRPC WebhookRegistry, reflection and health"),
      ingest_port: Port(8082, "ingest: `POST /events`, `/events/batch`"),
      dispatcher_port: Port(8083, "dispatcher: `/health` and `/metrics`"),
      retry_port: Port(8084, "retry manager: `/health` and `/metrics`"),
      observability_port: Port(8085, "observability: the dashboard, its JSON API and the aggregated `/metrics`"),
      tls_cert_file: Str("", "PEM certificate chain: every HTTP role and the gRPC registry serve TLS (with tls_key_file); empty = plain"),
      tls_key_file: Str("", "PEM private key of tls_cert_file"),
    }),
    database: section({
      url: Str("", "PostgreSQL URL (DATABASE_URL); empty = embedded SQLite"),
      data_dir: Str("./data", "embedded data directory (HOOKRELAY_DATA_DIR)"),
      auto_migrate: Bool(true, "apply pending migrations on start"),
      retention: Duration("30d", "finished deliveries, their attempts and events older than this are pruned"),
      max_connections: Int(20, 1, "connection pool size (PostgreSQL)"),
      sqlite_synchronous: Type.Union([Type.Literal("FULL"), Type.Literal("NORMAL")], {
        default: "FULL",
        description: "durability of accepted events in SQLite: FULL survives power loss, NORMAL a process crash (delivery bookkeeping always uses NORMAL)",
      }),
      sqlite_shards: Type.Integer({
        default: 1,
        minimum: 0,
        maximum: 64,
        description: "embedded `all`: processes, each owning the customers that hash to it and a database file of its own; 0 = one per CPU core (at most 16)",
      }),
    }),
    redis: section({
      url: Str("", "Redis URL (REDIS_URL); empty = embedded"),
      key_prefix: Str("hookrelay:", "prefix of every Redis key"),
    }),
    kafka: section({
      brokers: Type.Array(Type.String(), { default: [], description: "Kafka bootstrap brokers (KAFKA_BROKERS, comma-separated)" }),
      topic: Str("hookrelay.events", "event topic"),
      partitions: Int(12, 1, "partitions when the topic is created"),
      consumer_group: Str("hookrelay-dispatchers", "dispatchers' consumer group"),
      produce_timeout: Duration("5s", "how long ingest waits for Kafka before leaving an accepted event to the outbox"),
      republish_after: Duration("10s", "an accepted event not yet in Kafka after this long is sent again from the outbox"),
    }),
    security: section({
      jwt_algorithm: Type.Union([Type.Literal("HS256"), Type.Literal("RS256"), Type.Literal("EdDSA")], {
        default: "HS256",
        description: "the one algorithm tokens are signed and accepted with (pinned: a token in any other is refused)",
      }),
      jwt_secret: Str("", "HS256 signing secret (≥32 chars); empty = generated once and kept in the store"),
      jwt_private_key_file: Str("", "RS256/EdDSA: PEM (PKCS#8) private key that signs tokens (RSA ≥ 2048 bits, or Ed25519); required for those algorithms"),
      jwt_previous_keys: Type.Array(Type.String(), {
        default: [],
        description: "keys that still verify tokens during a rotation and never sign: HS256 secrets, or for RS256/EdDSA paths of PEM public keys (comma-separated in the environment)",
      }),
      secret_keys: Type.Array(Type.String(), {
        default: [],
        description: "keys sealing webhook signing secrets at rest (AES-256-GCM), each '<key id>:<base64 of 32 bytes>'; the first seals, all open (rotation); empty = stored unsealed",
      }),
      jwt_expiry: Duration("1h", "lifetime of tokens from /auth/login"),
      oauth2_enabled: Bool(false, "serve POST /oauth/token: OAuth 2.0 client credentials, an API key's id and secret as client id and secret"),
      oauth2_token_ttl: Duration("15m", "lifetime of access tokens from /oauth/token"),
      oauth2_issuer: Str("", "iss of an external OAuth issuer whose access tokens are accepted (verified against oauth2_jwks_url); empty = none"),
      oauth2_jwks_url: Str("", "that issuer's JWKS: https, or http on loopback"),
      oauth2_audience: Str("", "aud its tokens must carry; empty = not checked"),
      oauth2_algorithms: Type.Array(Type.String(), { default: ["RS256"], description: "the algorithms its tokens may use (pinned)" }),
      oauth2_scope_claim: Str("scope", "claim holding its tokens' scopes (space-separated or a list; admin is never taken from it)"),
      oauth2_customer_claim: Str("customer_id", "claim naming the customer its tokens act for"),
      jwt_issuer: Str("hookrelay", "iss claim of issued tokens, checked on every request"),
      jwt_audience: Str("", "aud claim put in issued tokens and required of every token; empty = none"),
      jwt_clock_skew: Duration("30s", "tolerated clock difference for exp, nbf and iat (at most 5m)"),
      admin_password: Str("", "admin password (HOOKRELAY_ADMIN_PASSWORD); empty = generated and printed once"),
      allow_private_targets: Bool(false, "allow loopback/private webhook URLs (HOOKRELAY_ALLOW_PRIVATE_TARGETS); local use only"),
      allowed_target_cidrs: Type.Array(Type.String(), {
        default: [],
        description: "non-public ranges webhooks may reach anyway, e.g. 10.20.0.0/16 for an internal network (comma-separated in the environment); every other non-public address stays refused",
      }),
      max_json_depth: Int(64, 1, "deepest nesting of arrays and objects in a JSON request body (the body's own value counts 1); deeper: 422 before it is parsed"),
      body_timeout: Duration("10s", "longest a request body may take to arrive, from the end of its head; past it 408 request_timeout and the connection is closed (at most 4m)"),
      max_connections_per_ip: Int(
        512,
        0,
        "requests one client IP may have in progress at once on one HTTP port of a process (each holds a connection); past it 429 too_many_connections at once and the connection is closed; 0 = no limit",
      ),
      max_event_bytes: Int(262_144, 1, "largest accepted event body, bytes"),
      max_batch_events: Int(1000, 1, "most events in one batch request"),
      max_batch_bytes: Int(16_777_216, 1, "largest accepted batch body, bytes"),
      max_pending_events: Int(5000, 1, "events an ingest process holds waiting to be stored; beyond it ingest answers 503 with Retry-After (load shedding)"),
      max_pending_bytes: Int(
        33_554_432,
        1,
        "payload bytes of the events an ingest process holds waiting to be stored; beyond it ingest answers 503 with Retry-After, like max_pending_events (a few large events hold as much memory as many small ones)",
      ),
      shed_loop_lag: Duration(
        "100ms",
        "while the event loop stays this far behind (two checks 50 ms apart), event posts are answered 503 with Retry-After before their body is read (load shedding); 0 = off",
      ),
      max_webhooks_per_customer: Int(500, 1, "webhooks one customer may have; beyond: 422 limit_exceeded"),
      max_fanout_per_event: Int(100, 1, "active webhooks of one customer one event type may reach (wildcards included); a webhook that would cross it: 422 limit_exceeded"),
      strict_event_types: Bool(false, "webhooks may subscribe only to event types of their customer's catalog (a prefix.* pattern to one at least; * always); others: 422"),
      rate_limit_ingest_per_ip: Int(20_000, 0, "ingest requests per second from one client IP (a second's worth may come at once); 0 = no limit"),
      rate_limit_ingest_per_customer: Int(20_000, 0, "events per second one customer may send (a batch counts its events); 0 = no limit"),
      rate_limit_api_per_ip: Int(200, 0, "management API requests per second from one client IP, login included; 0 = no limit"),
      rate_limit_api_per_customer: Int(100, 0, "management API requests per second of one customer; 0 = no limit"),
      login_attempts_per_minute_per_ip: Int(
        20,
        0,
        "password checks (/auth/login, gateway and observability) one client IP may make per minute, a minute's worth at once at most; beyond: 429; 0 = no limit",
      ),
      login_attempts_per_minute_per_account: Int(10, 0, "password checks per minute for one username, whoever sends them; beyond: 429 (tokens and API keys keep working); 0 = no limit"),
      login_max_concurrent: Int(1, 1, "Argon2 password verifications running at once per process (each keeps a core busy for 50-250 ms)"),
      login_max_waiting: Int(8, 0, "password checks waiting for a turn per process; beyond them login answers 503 with Retry-After at once"),
      trust_forwarded_for: Bool(false, "take the client IP from the last X-Forwarded-For entry (only behind a proxy that sets it)"),
    }),
    dispatcher: section({
      http_timeout: Duration("30s", "timeout of one webhook request"),
      trusted_ca_file: Str("", "PEM file of CA certificates trusted for https:// webhook targets besides the system's roots (an endpoint of a private CA); empty = system roots only"),
      max_in_flight: Int(64, 1, "concurrent webhook requests per process (Bun keeps 64 idle sockets)"),
      max_in_flight_per_webhook: Int(16, 1, "concurrent requests to one webhook"),
      max_queue_wait: Duration("5s", "longest a delivery waits behind a slow webhook's earlier ones; the ones beyond it, and the webhook's next events, are parked on the retry schedule"),
      slow_endpoint: Duration(
        "1s",
        "a webhook whose requests take at least this long is slow (its backlog may be parked); so is one at least 5 times as slow as the webhooks with nothing queued (and 50 ms) while the process keeps time; a fast one never is: its backlog means hookrelay is the bottleneck",
      ),
      max_pending_events: Int(
        1000,
        1,
        "events read ahead of the committed position and held for delivery in memory (with max_pending_bytes of them); beyond it reading waits (the backlog stays in the log)",
      ),
      max_parking_events: Int(
        100_000,
        1,
        "events read ahead to be parked (their customer over its budget, or every webhook of theirs slow and far behind), besides max_pending_events: the events behind one slow webhook's burst are reached as fast as it is read, not delivered; they leave memory 500 to a store write",
      ),
      max_pending_bytes: Int(33_554_432, 1, "payload bytes of the events a dispatcher holds read ahead of the committed position; beyond it reading waits (the backlog stays on disk, not in memory)"),
      max_pending_deliveries: Int(20_000, 1, "deliveries a dispatcher holds in memory, queued or in flight; an event that would cross it is parked on the retry schedule (stored) instead"),
      max_pending_deliveries_per_customer: Int(5000, 1, "deliveries of one customer a dispatcher holds in memory; beyond it that customer's events are parked (stored), the others' still go at once"),
      parked_per_second_per_customer: Int(
        1000,
        0,
        "parked deliveries of one customer a dispatcher lets come due per second, so a burst does not hold other customers' retries behind it; 0 = all at once",
      ),
      read_batch: Int(100, 1, "events read from the log at a time"),
      poll_interval: Duration("200ms", "how long to wait for new events when idle"),
      subscription_refresh: Duration("1s", "how stale the webhook cache may be for a backlog; events accepted after the last check always re-check"),
      shutdown_timeout: Duration("10s", "how long SIGTERM waits for in-flight deliveries"),
      max_response_body_bytes: Int(4096, 0, "bytes of an endpoint's answer kept per attempt"),
    }),
    endpoint_health: section({
      breaker_consecutive_failures: Int(20, 0, "failed attempts in a row (in one delivering process) that pause a webhook; 0 = never by count"),
      breaker_failure_ratio: Type.Number({ default: 0.8, minimum: 0, maximum: 1, description: "share of failed attempts over breaker_window that pauses a webhook; 0 = never by ratio" }),
      breaker_window: Duration("60s", "the window of breaker_failure_ratio, from a webhook's first failure"),
      breaker_min_attempts: Int(50, 1, "attempts in a window before its failure ratio counts"),
      probe_interval: Duration("10s", "first wait before a paused webhook is tried again with one delivery; doubled after each failed probe"),
      probe_max_interval: Duration("10m", "longest wait between probes"),
      disable_after: Duration("5d", "a webhook failing this long (probes included) is disabled, with a webhook.disabled event"),
      drain_per_second: Int(50, 1, "deliveries per second a resumed webhook's held backlog comes due at"),
    }),
    retry_manager: section({
      max_retries: Int(5, 0, "retries after the first attempt before a delivery is dead"),
      initial_delay: Duration("1s", "delay before the first retry"),
      max_delay: Duration("300s", "longest delay between retries"),
      backoff_multiplier: Type.Number({ default: 2.0, minimum: 1, description: "delay growth per retry" }),
      jitter: Type.Number({ default: 0.1, minimum: 0, maximum: 1, description: "± fraction of randomness on each delay" }),
      poll_interval: Duration(
        "250ms",
        "how often due retries are claimed; with none due, the next claim waits until the earliest comes due, at most 4 times this (a retry due sooner that was scheduled meanwhile waits that long at most)",
      ),
      batch_size: Int(100, 1, "retries claimed at a time"),
      lease: Duration("2m", "how long a claimed retry stays invisible before another worker may take it"),
      operational_poll_interval: Duration(
        "1s",
        "how often hookrelay's own events (webhook health changes, dead deliveries) are read from the store and put in the event log for the operational webhooks",
      ),
      ordered_poll_interval: Duration(
        "250ms",
        "how often each webhook that delivers in order (ordering fifo) has its new events read and its keys' next deliveries put on the schedule; a key's next also goes at once when the one before it finishes",
      ),
    }),
    observability: section({
      log_level: Type.Union(
        ["trace", "debug", "info", "warn", "error", "fatal", "silent"].map((l) => Type.Literal(l)),
        { default: "info", description: "pino log level" },
      ),
      scrape_targets: Type.Array(Type.String(), {
        default: [],
        description:
          "other roles' /metrics URLs the observability role reads into its /metrics, stats and dashboard, e.g. http://dispatcher:8083/metrics (comma-separated in the environment); empty = this process's own metrics only",
      }),
      scrape_interval: Duration("2s", "how often the observability role reads its scrape targets (and samples the dashboard's charts)"),
    }),
    portal: section({
      public_url: Str(
        "",
        "the gateway's address as your customers' browsers reach it, e.g. https://hooks.example.com (a path prefix is kept), put in customer portal links; empty = the address the request minting the link came to",
      ),
      frame_ancestors: Type.Array(Type.String(), {
        default: [],
        description:
          "origins that may show the customer portal in an iframe, e.g. https://app.example.com or https://*.example.com (its CSP frame-ancestors; comma-separated in the environment); empty = no page may frame it",
      }),
      link_ttl: Duration("1h", "lifetime of a customer portal link when the request minting it names none (expires_in); at most 24h"),
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** Well-known variables that also set a key (the specific `HOOKRELAY_…` form wins). */
const ALIASES: Record<string, string> = {
  DATABASE_URL: "database.url",
  HOOKRELAY_DATA_DIR: "database.data_dir",
  REDIS_URL: "redis.url",
  KAFKA_BROKERS: "kafka.brokers",
  HOOKRELAY_ADMIN_PASSWORD: "security.admin_password",
  HOOKRELAY_ALLOW_PRIVATE_TARGETS: "security.allow_private_targets",
};

/**
 * Keys that were removed, with what replaced them. Like any unknown key they stop the start
 * (nothing set is silently ignored), but the message says why, so an old config file or
 * deployment is fixed by deleting the line rather than hunting for a typo.
 */
const REMOVED_KEYS: Record<string, string> = {
  "dispatcher.http_client": "every webhook request goes through fetch; hookrelay's own HTTP/1.1 client was removed",
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export interface ConfigSources {
  env: Record<string, string | undefined>;
  /** YAML text and where it came from; omitted = no file. */
  file?: { path: string; text: string };
}

/** `HOOKRELAY_<SECTION>_<KEY>` for a key path like `retry_manager.initial_delay`. */
export function envName(path: string): string {
  return `HOOKRELAY_${path.replace(".", "_").toUpperCase()}`;
}

function sections(): [string, TObject][] {
  return Object.entries(ConfigSchema.properties) as [string, TObject][];
}

/** Strict: text that is not exactly a number or boolean stays a string and is reported, never truncated. */
function fromEnv(raw: string, schema: TSchema): unknown {
  if (schema.type === "array")
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const text = raw.trim();
  if (schema.type === "integer" && /^-?\d+$/.test(text)) return Number(text);
  if (schema.type === "number" && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (schema.type === "boolean" && /^(true|1)$/i.test(text)) return true;
  if (schema.type === "boolean" && /^(false|0)$/i.test(text)) return false;
  return raw;
}

/** `HOOKRELAY_<SECTION>_<KEY>` variables naming no key: a typo must not be silently ignored. */
function unknownVariables(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const removed = new Map(Object.keys(REMOVED_KEYS).map((path) => [envName(path), path]));
  for (const [name, schema] of sections()) {
    const prefix = `HOOKRELAY_${name.toUpperCase()}_`;
    const known = new Set(Object.keys(schema.properties).map((key) => envName(`${name}.${key}`)));
    for (const variable of Object.keys(env)) {
      if (!variable.startsWith(prefix) || known.has(variable)) continue;
      const path = removed.get(variable);
      problems.push(
        path
          ? `${variable}: ${path} is no longer a configuration key (${REMOVED_KEYS[path]}); unset it`
          : `${variable}: not a configuration key; ${name} has ${Object.keys(schema.properties).join(", ")}`,
      );
    }
  }
  return problems;
}

/** The configuration file as YAML gave it: any shape until the schema has checked it. */
// biome-ignore lint/suspicious/noExplicitAny: sections and keys are read before validation, which names every wrong one
type ConfigDocument = Record<string, any>;

/** Builds the configuration; throws one ConfigError listing every problem. */
export function parseConfig(sources: ConfigSources): Config {
  const problems: string[] = [];
  const origin = new Map<string, string>();
  let doc: ConfigDocument = {};
  if (sources.file) {
    try {
      const parsed = Bun.YAML.parse(sources.file.text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== "object" || Array.isArray(parsed)) problems.push(`${sources.file.path}: top level must be a mapping of sections`);
        else doc = parsed as ConfigDocument;
      }
    } catch (err) {
      problems.push(`${sources.file.path}: not valid YAML: ${(err as Error).message}`);
    }
  }
  for (const [name, value] of Object.entries(doc)) {
    origin.set(name, sources.file!.path);
    if (value && typeof value === "object" && !Array.isArray(value)) for (const key of Object.keys(value)) origin.set(`${name}.${key}`, sources.file!.path);
  }
  problems.push(...removedKeysIn(doc, origin));

  for (const [name, schema] of sections()) {
    for (const [key, keySchema] of Object.entries(schema.properties)) {
      const path = `${name}.${key}`;
      const specific = envName(path);
      const alias = Object.keys(ALIASES).find((a) => ALIASES[a] === path && sources.env[a] !== undefined);
      const variable = sources.env[specific] !== undefined ? specific : alias;
      if (variable === undefined) continue;
      if (typeof doc[name] !== "object" || doc[name] === null || Array.isArray(doc[name])) doc[name] = {};
      doc[name][key] = fromEnv(sources.env[variable]!, keySchema as TSchema);
      origin.set(path, variable);
    }
  }
  problems.push(...unknownVariables(sources.env));

  // No Value.Convert: it truncates 80.5 to 80, reads "1e3" as 1 and true as 1.
  const config: unknown = Value.Default(ConfigSchema, Value.Clone(doc));
  for (const error of Value.Errors(ConfigSchema, config)) {
    const path = error.path.replace(/^\//, "").replaceAll("/", ".");
    const where = origin.get(path) ?? origin.get(path.split(".").slice(0, 2).join("."));
    const got = error.value === undefined ? "" : ` (got ${JSON.stringify(error.value)})`;
    const message = error.schema.duration ? "expected a duration like 100ms, 1s, 5m, 30d" : error.message;
    problems.push(`${path || "config"}: ${message}${got}${where ? ` [from ${where}]` : ""}`);
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);

  const valid = config as Config;
  problems.push(...crossFieldProblems(valid));
  if (problems.length > 0) throw new ConfigError(problems);
  return valid;
}

/** A removed key in the file, named with why; taken out so the schema does not report it again as unknown. */
function removedKeysIn(doc: ConfigDocument, origin: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, replacement] of Object.entries(REMOVED_KEYS)) {
    const [name, key] = path.split(".") as [string, string];
    const holder = doc[name];
    if (holder === null || typeof holder !== "object" || Array.isArray(holder) || !(key in holder)) continue;
    problems.push(`${path}: no longer a configuration key (${replacement}); delete it [from ${origin.get(path)}]`);
    delete holder[key];
  }
  return problems;
}

function crossFieldProblems(config: Config): string[] {
  const problems: string[] = [];
  const secret = config.security.jwt_secret;
  if (secret !== "" && secret.length < 32) problems.push("security.jwt_secret: must be at least 32 characters (or empty to generate one)");
  if ((config.server.tls_cert_file === "") !== (config.server.tls_key_file === "")) problems.push("server.tls_cert_file and server.tls_key_file: set both to serve TLS, or neither");
  const { jwt_algorithm: algorithm, jwt_private_key_file: privateKeyFile } = config.security;
  if (algorithm !== "HS256" && privateKeyFile === "") problems.push(`security.jwt_private_key_file: required when security.jwt_algorithm is ${algorithm} (a PEM PKCS#8 private key)`);
  if (algorithm === "HS256" && privateKeyFile !== "") problems.push("security.jwt_private_key_file: only used with RS256 or EdDSA; HS256 signs with security.jwt_secret");
  if (algorithm === "HS256")
    for (const [i, previous] of config.security.jwt_previous_keys.entries())
      if (previous.length < 32) problems.push(`security.jwt_previous_keys[${i}]: an HS256 secret must be at least 32 characters`);
  for (const [i, range] of config.security.allowed_target_cidrs.entries())
    if (parseCidr(range) === null) problems.push(`security.allowed_target_cidrs[${i}]: '${range}' is not a range like 10.20.0.0/16 or fd00::/8 (address/bits, no bits set past the prefix)`);
  for (const [i, target] of config.observability.scrape_targets.entries())
    if (!/^https?:\/\/[^/\s]+/.test(target) || !URL.canParse(target)) problems.push(`observability.scrape_targets[${i}]: '${target}' is not an http(s) URL like http://dispatcher:8083/metrics`);
  if (durationMs(config.observability.scrape_interval) < 100) problems.push("observability.scrape_interval: must be at least 100ms");
  problems.push(...externalIssuerProblems(config), ...portalProblems(config));
  if (durationMs(config.security.jwt_clock_skew) > 5 * 60_000) problems.push("security.jwt_clock_skew: at most 5m (a longer skew keeps expired tokens alive)");
  if (config.dispatcher.max_in_flight_per_webhook > config.dispatcher.max_in_flight) problems.push("dispatcher.max_in_flight_per_webhook: must not exceed dispatcher.max_in_flight");
  const bodyTimeout = durationMs(config.security.body_timeout);
  if (bodyTimeout < 1 || bodyTimeout > 4 * 60_000) problems.push("security.body_timeout: between 1ms and 4m");
  if (durationMs(config.retry_manager.initial_delay) > durationMs(config.retry_manager.max_delay)) problems.push("retry_manager.initial_delay: must not exceed retry_manager.max_delay");
  if (durationMs(config.retry_manager.lease) <= durationMs(config.dispatcher.http_timeout))
    problems.push("retry_manager.lease: must be longer than dispatcher.http_timeout, or a slow attempt's retry is claimed twice");
  return problems;
}

/** An origin a CSP source list takes (a scheme, a host that may start with `*.`, a port), or 'self'. */
const FRAME_ANCESTOR = /^(?:'self'|https?:\/\/(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?)$/i;

function portalProblems({ portal }: Config): string[] {
  const problems: string[] = [];
  if (portal.public_url !== "" && (!/^https?:\/\/[^/\s]+/.test(portal.public_url) || !URL.canParse(portal.public_url) || /[?#]/.test(portal.public_url)))
    problems.push(`portal.public_url: '${portal.public_url}' is not an http(s) address like https://hooks.example.com (no query or fragment)`);
  for (const [i, origin] of portal.frame_ancestors.entries())
    if (!FRAME_ANCESTOR.test(origin)) problems.push(`portal.frame_ancestors[${i}]: '${origin}' is not an origin like https://app.example.com, https://*.example.com or 'self'`);
  const ttl = durationMs(portal.link_ttl);
  if (ttl < 1000 || ttl > 24 * 3_600_000) problems.push("portal.link_ttl: between 1s and 24h");
  return problems;
}

const EXTERNAL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

function externalIssuerProblems({ security: s }: Config): string[] {
  if (s.oauth2_issuer === "" && s.oauth2_jwks_url === "") return [];
  if (s.oauth2_issuer === "" || s.oauth2_jwks_url === "") return ["security.oauth2_issuer and security.oauth2_jwks_url: set both to accept an external issuer's tokens, or neither"];
  const problems: string[] = [];
  if (s.oauth2_issuer === s.jwt_issuer) problems.push(`security.oauth2_issuer: must differ from security.jwt_issuer ('${s.jwt_issuer}'), or its tokens could not be told from hookrelay's own`);
  let url: URL | undefined;
  try {
    url = new URL(s.oauth2_jwks_url);
  } catch {
    problems.push(`security.oauth2_jwks_url: '${s.oauth2_jwks_url}' is not a URL`);
  }
  if (url && url.protocol !== "https:" && !(url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)))
    problems.push("security.oauth2_jwks_url: must be https (http only on loopback): the keys decide who may call");
  const unknown = s.oauth2_algorithms.filter((a) => !EXTERNAL_ALGORITHMS.includes(a));
  if (unknown.length > 0 || s.oauth2_algorithms.length === 0)
    problems.push(`security.oauth2_algorithms: ${unknown.length > 0 ? `${unknown.join(", ")} not allowed` : "empty"}; choose from ${EXTERNAL_ALGORITHMS.join(", ")}`);
  return problems;
}

/**
 * Running roles needs the embedded backends (no server configured) or all three servers;
 * `hookrelay migrate` needs only the database. Returns the problem, or null.
 */
export function backendProblem(config: Config): string | null {
  const production = { "database.url": config.database.url !== "", "redis.url": config.redis.url !== "", "kafka.brokers": config.kafka.brokers.length > 0 };
  const set = Object.entries(production)
    .filter(([, on]) => on)
    .map(([key]) => key);
  if (set.length === 0 || set.length === 3) return null;
  return `production mode needs database.url, redis.url and kafka.brokers together (DATABASE_URL, REDIS_URL, KAFKA_BROKERS); only ${set.join(", ")} ${set.length === 1 ? "is" : "are"} set`;
}

/** Reads `HOOKRELAY_CONFIG` (or `./config.yaml` when present) and the process environment. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const path = env.HOOKRELAY_CONFIG ?? "config.yaml";
  if (env.HOOKRELAY_CONFIG && !existsSync(path)) throw new ConfigError([`HOOKRELAY_CONFIG: file '${path}' does not exist`]);
  const file = existsSync(path) ? { path, text: readFileSync(path, "utf8") } : undefined;
  return parseConfig({ env, file });
}

/** Every key with its default, env variable and description: the table in docs/configuration.md ("Every key"). */
export function describeConfig(): { key: string; env: string; default: unknown; description: string }[] {
  return sections().flatMap(([name, schema]) =>
    Object.entries(schema.properties).map(([key, keySchema]) => ({
      key: `${name}.${key}`,
      env: envName(`${name}.${key}`),
      default: (keySchema as TSchema).default,
      description: (keySchema as TSchema).description ?? "",
    })),
  );
}
