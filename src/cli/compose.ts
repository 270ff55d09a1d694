/**
 * @module The composition root: builds config-driven adapters, logger and metrics once per
 * process, wires the roles, and registers teardown last-in-first-out.
 */
import { FetchSender } from "../adapters/http/sender.ts";
import { anyTargetResolver, publicTargetResolver, refusalOf } from "../adapters/http/target-guard.ts";
import { SecretBox } from "../adapters/secret-box.ts";
import { serveShard } from "../adapters/sqlite/shard-link.ts";
import { holdShard, shardOf, shardSocketPath } from "../adapters/sqlite/shards.ts";
import { parseCidr } from "../domain/address.ts";
import type { Clock, Sender } from "../domain/ports.ts";
import type { RetryPolicy } from "../domain/retry-policy.ts";
import { SigningKeys } from "../domain/signature.ts";
import { apiReference } from "../platform/api-reference.ts";
import { backendProblem, type Config } from "../platform/config.ts";
import { durationMs } from "../platform/duration.ts";
import { createHttpApp, edgeLimits, type HttpApp, type Listening, listen, type TlsFiles } from "../platform/http.ts";
import { Lifecycle } from "../platform/lifecycle.ts";
import { createLogger, type DestinationStream, type Logger } from "../platform/logger.ts";
import { LoopLag } from "../platform/loop-lag.ts";
import { createMetrics } from "../platform/metrics.ts";
import { RateGate } from "../platform/rate-gate.ts";
import { ApiKeys } from "../services/auth/api-keys.ts";
import { bearerCredentials } from "../services/auth/credentials.ts";
import { ExternalIssuer } from "../services/auth/external-issuer.ts";
import { HashThreads } from "../services/auth/hash-threads.ts";
import { ensureAdmin } from "../services/auth/login.ts";
import { PasswordChecks } from "../services/auth/password-checks.ts";
import { Tokens } from "../services/auth/tokens.ts";
import { EventSchemas } from "../services/catalog/schemas.ts";
import { WebhookLimits } from "../services/delivery/admission.ts";
import type { AttemptDeps } from "../services/delivery/attempt.ts";
import { DeliveryPool } from "../services/delivery/pool.ts";
import { Sequencer } from "../services/delivery/sequencer.ts";
import { Dispatcher } from "../services/dispatcher/dispatcher.ts";
import { documentOf } from "../services/gateway/document.ts";
import { eventsGoToIngest, gatewayRoutes } from "../services/gateway/routes.ts";
import { Breakers, breakerPolicyOf } from "../services/health/breaker.ts";
import { Prober } from "../services/health/prober.ts";
import { PendingEvents } from "../services/ingest/accept.ts";
import { eventRoutes, shedEvents } from "../services/ingest/routes.ts";
import { RecentActivity } from "../services/observability/recent-activity.ts";
import { observabilityRoutes } from "../services/observability/routes.ts";
import { startSampling } from "../services/observability/sampling.ts";
import { Scraper } from "../services/observability/scraper.ts";
import { OperationalRelay } from "../services/operational/relay.ts";
import { RecoveryRunner } from "../services/recovery/runner.ts";
import { startRegistry } from "../services/registry/server.ts";
import { startRetention } from "../services/retry/retention.ts";
import { RetryManager } from "../services/retry/retry-manager.ts";
import { Subscriptions } from "../services/webhooks/subscriptions.ts";
import { BackendWait, WaitStopped } from "./backend-wait.ts";
import { buildBackends, type ShardPlace } from "./backends.ts";
import { ROLES, type Role } from "./roles.ts";
import { tlsFiles, tokenKeys, trustedCa } from "./startup-files.ts";
import { listenerLines } from "./startup-lines.ts";
import { VERSION } from "./version.ts";

export { ROLES, type Role };

/** Roles served over HTTP (Elysia); `registry` serves gRPC. */
type HttpRole = Exclude<Role, "registry">;

export interface Running {
  lifecycle: Lifecycle;
  log: Logger;
  /** The port each started role listens on. */
  ports: Partial<Record<Role, number>>;
}

const systemClock: Clock = { now: () => Date.now() };

/** A reason the process cannot start, worth one line to the operator, not a stack trace. */
export class StartupError extends Error {
  override name = "StartupError";
}
/** The dashboard's charts span this long; its "now" rates, the last RATE_WINDOW_MS. */
const HISTORY_MS = 5 * 60_000;
const RATE_WINDOW_MS = 10_000;

export interface ComposeOptions {
  /** Where one-time notices (the generated admin password) go; stdout by default. */
  print?: (line: string) => void;
  /** Where JSON logs go; stdout by default (tests read them). */
  logDestination?: DestinationStream;
  /**
   * Embedded shards (src/cli/shards.ts): the shard this process owns. Every shard listens on the
   * ingest port (SO_REUSEPORT); shard 0 alone on the others, and serves the API over every shard.
   */
  shard?: ShardPlace;
}

/** Starts the given roles in this process on the configured backends. */
export async function compose(roles: readonly Role[], config: Config, options: ComposeOptions = {}): Promise<Running> {
  const print = options.print ?? console.log;
  const rootLog = createLogger(config.observability.log_level, options.logDestination);
  const shard = options.shard && options.shard.count > 1 ? options.shard : undefined;
  // Shard 0 runs every role; the others take events and deliver their own customers'.
  if (shard && shard.index > 0) roles = roles.filter((role) => role === "ingest" || role === "dispatcher" || role === "retry");
  const log = rootLog.child({ role: roles.length === ROLES.length ? "all" : roles.join(","), ...(shard ? { shard: shard.index } : {}) });
  const lifecycle = new Lifecycle(log);
  lifecycle.onStop("logger", () => rootLog.flush());
  // Every role listens in shard 0; in the others, only ingest (on the port they share).
  const served = shard && shard.index > 0 ? roles.filter((role) => role === "ingest") : roles;
  const metrics = createMetrics();
  const problem = backendProblem(config);
  if (problem) throw new StartupError(problem);
  let secrets: SecretBox;
  let ca: string | undefined;
  try {
    secrets = new SecretBox(config.security.secret_keys);
    ca = trustedCa(config);
  } catch (err) {
    await lifecycle.stop();
    throw new StartupError((err as Error).message);
  }
  // Backends not ready yet are waited for (src/cli/backend-wait.ts); meanwhile the HTTP ports answer 503.
  const starting = new BackendWait({
    log,
    lifecycle,
    secrets: [config.database.url, config.redis.url],
    listen: {
      host: config.server.host,
      ports: served.filter((role) => role !== "registry").map((role) => ({ role, port: config.server[`${role}_port`] })),
      tls: () => tlsFiles(config),
    },
  });
  if (shard) {
    const release = await holdShard(config.database.data_dir, shard.index, 60_000, () => log.warn("waiting for the shard's previous process to let go of it")).catch(async (err) => {
      await lifecycle.stop();
      throw new StartupError((err as Error).message);
    });
    lifecycle.onStop("shard lock", release);
  }
  const backends = await starting
    .run((wait) => buildBackends({ config, lifecycle, log, metrics, secrets, wait, shard }))
    .catch(async (err) => {
      await lifecycle.stop();
      throw err instanceof WaitStopped ? err : new StartupError((err as Error).message);
    });
  const { store, accounts, eventLog, schedule } = backends;
  // What the delivery roles work on: this shard's own part, or everything.
  const own = backends.own ?? { store, schedule, eventLog };
  const clock = systemClock;

  const tokenConfig = {
    keys: await tokenKeys(config, store).catch(async (err) => {
      await lifecycle.stop();
      throw new StartupError((err as Error).message);
    }),
    issuer: config.security.jwt_issuer,
    audience: config.security.jwt_audience || undefined,
    clockSkewSeconds: durationMs(config.security.jwt_clock_skew) / 1000,
  };
  const tokens = new Tokens({ ...tokenConfig, expirySeconds: durationMs(config.security.jwt_expiry) / 1000 });
  // The same keys sign OAuth access tokens, with their own (short) lifetime; any role verifies both.
  const oauthTokens = config.security.oauth2_enabled ? new Tokens({ ...tokenConfig, expirySeconds: durationMs(config.security.oauth2_token_ttl) / 1000 }) : undefined;
  const apiKeys = new ApiKeys(accounts);
  const external = config.security.oauth2_issuer
    ? new ExternalIssuer({
        issuer: config.security.oauth2_issuer,
        jwksUrl: config.security.oauth2_jwks_url,
        audience: config.security.oauth2_audience || undefined,
        algorithms: config.security.oauth2_algorithms,
        scopeClaim: config.security.oauth2_scope_claim,
        customerClaim: config.security.oauth2_customer_claim,
        clockSkewSeconds: tokenConfig.clockSkewSeconds,
      })
    : undefined;
  const credentials = bearerCredentials(tokens, apiKeys, external);
  const security = config.security;
  const rateGate = new RateGate(backends.rateLimiter, {
    ingestPerIp: security.rate_limit_ingest_per_ip,
    ingestPerCustomer: security.rate_limit_ingest_per_customer,
    apiPerIp: security.rate_limit_api_per_ip,
    apiPerCustomer: security.rate_limit_api_per_customer,
    loginPerIp: security.login_attempts_per_minute_per_ip,
    loginPerAccount: security.login_attempts_per_minute_per_account,
    // Over shards a customer's ingest bucket is kept by its shard, whichever process takes the request.
    ...(shard ? { ownsCustomer: (customerId: string) => shardOf(customerId, shard.count) === shard.index } : {}),
  });
  // One cap per process on Argon2 verifications, for the gateway's login and the observability
  // role's, run on threads of their own (never on Bun's shared work pool).
  const hashThreads = roles.includes("gateway") || roles.includes("observability") ? new HashThreads(security.login_max_concurrent) : null;
  if (hashThreads) lifecycle.onStop("password hash threads", () => hashThreads.close());
  const passwords = new PasswordChecks({ maxConcurrent: security.login_max_concurrent, maxWaiting: security.login_max_waiting }, hashThreads?.verify);
  const guard = { credentials, rateGate, trustForwardedFor: security.trust_forwarded_for };
  const resolveTarget = config.security.allow_private_targets ? anyTargetResolver : publicTargetResolver(config.security.allowed_target_cidrs.map((range) => parseCidr(range)!));
  const checkTarget = refusalOf(resolveTarget);
  const webhookLimits = { maxWebhooks: config.security.max_webhooks_per_customer, maxFanout: config.security.max_fanout_per_event, strictEventTypes: config.security.strict_event_types };
  if (config.security.allow_private_targets) log.warn("private webhook targets are allowed (HOOKRELAY_ALLOW_PRIVATE_TARGETS); do not use in production");

  const dispatcherConfig = config.dispatcher;
  const retryConfig = config.retry_manager;
  const policy: RetryPolicy = {
    maxRetries: retryConfig.max_retries,
    initialDelayMs: durationMs(retryConfig.initial_delay),
    maxDelayMs: durationMs(retryConfig.max_delay),
    multiplier: retryConfig.backoff_multiplier,
    jitter: retryConfig.jitter,
  };
  const health = config.endpoint_health;
  const breakerPolicy = breakerPolicyOf(health);
  // Every delivery, http:// and https://, goes through fetch: its HTTP/1.1 framing and connection
  // reuse hold against receivers that answer early or frame their answers badly (sender tests).
  const buildSender = (): Sender => new FetchSender({ maxResponseBytes: dispatcherConfig.max_response_body_bytes, userAgent: `hookrelay/${VERSION}`, resolveTarget, ca });
  const attemptDeps: AttemptDeps = {
    store: own.store,
    schedule: own.schedule,
    clock,
    log,
    metrics,
    policy,
    keys: new SigningKeys(),
    httpTimeoutMs: durationMs(dispatcherConfig.http_timeout),
    sender: buildSender(),
  };
  const shutdownTimeoutMs = durationMs(dispatcherConfig.shutdown_timeout);
  const ingestDeps = {
    eventLog,
    clock,
    metrics,
    ...guard,
    maxEventBytes: config.security.max_event_bytes,
    maxBatchBytes: config.security.max_batch_bytes,
    maxBatchEvents: config.security.max_batch_events,
    pending: new PendingEvents(config.security.max_pending_events, config.security.max_pending_bytes),
    // Every shard's webhooks (an event's customer may be any shard's): the answers' `matched_webhooks`.
    subscriptions: new Subscriptions(store),
    // One for the gateway's and ingest's events in this process: a catalog change through the gateway applies to both at once.
    schemas: new EventSchemas(store.eventTypes, log),
  };
  // Ingest (on its port, and on the gateway's) follows webhook changes by their notices, where the
  // store sends them; the roles that change webhooks (gateway, registry) listen too, so that a
  // change is answered once its notice is out (webhook-notices.ts).
  if (roles.some((role) => role === "ingest" || role === "gateway" || role === "registry")) lifecycle.onStop("webhook change notices", await ingestDeps.subscriptions.watch());

  const observabilityConfig = config.observability;
  const sampleEveryMs = durationMs(observabilityConfig.scrape_interval);
  // Shard 0 reads the other shards' metrics over their sockets: the dashboard speaks for all of them.
  const shardTargets = shard ? Array.from({ length: shard.count - 1 }, (_, i) => `unix:${shardSocketPath(config.database.data_dir, i + 1)}`) : [];
  const scraper = new Scraper({
    registry: metrics.registry,
    targets: [...observabilityConfig.scrape_targets, ...shardTargets],
    log,
    timeoutMs: Math.max(500, sampleEveryMs),
    now: clock.now,
  });
  const activity = new RecentActivity(Math.ceil(HISTORY_MS / sampleEveryMs), RATE_WINDOW_MS);
  if (roles.includes("observability")) lifecycle.onStop("metrics sampling", startSampling({ scraper, activity, clock, log }, sampleEveryMs));

  const checks = { store, event_log: eventLog, retry_schedule: schedule };
  // Event posts only: the management API (login, webhooks) stays open while ingest is at capacity.
  const shedLagMs = durationMs(config.security.shed_loop_lag);
  const loopLag = shedLagMs > 0 && (roles.includes("ingest") || roles.includes("gateway")) ? new LoopLag() : undefined;
  if (loopLag) lifecycle.onStop("event loop lag", () => loopLag.stop());
  const shed = shedEvents(ingestDeps.pending, loopLag, shedLagMs);
  const features = { oauth: oauthTokens !== undefined };
  const apps: Record<HttpRole, () => HttpApp> = {
    gateway: () =>
      createHttpApp({ role: "gateway", log, metrics, checks, shed, notFound: eventsGoToIngest(() => ports.ingest ?? config.server.ingest_port) })
        .use(
          gatewayRoutes({
            ...ingestDeps,
            store,
            schedule,
            log,
            checkTarget,
            webhookLimits,
            tokens,
            passwords,
            oauthTokens,
            accounts,
            apiKeys,
            drainPerSecond: health.drain_per_second,
            sender: attemptDeps.sender,
            keys: attemptDeps.keys,
            httpTimeoutMs: attemptDeps.httpTimeoutMs,
            onCatalogChange: (customerId: string) => ingestDeps.schemas.changed(customerId),
            portal: { publicUrl: config.portal.public_url, linkSeconds: Math.floor(durationMs(config.portal.link_ttl) / 1000), frameAncestors: config.portal.frame_ancestors },
          }),
        )
        .use(apiReference(documentOf("gateway", features))),
    ingest: () =>
      createHttpApp({ role: "ingest", log, metrics, checks: { event_log: eventLog }, shed })
        .use(eventRoutes(ingestDeps))
        .use(apiReference(documentOf("ingest", features))),
    dispatcher: () => createHttpApp({ role: "dispatcher", log, metrics, checks }),
    retry: () => createHttpApp({ role: "retry", log, metrics, checks: { store, retry_schedule: schedule } }),
    observability: () =>
      createHttpApp({ role: "observability", log, metrics, checks, exposition: () => scraper.exposition() })
        .use(observabilityRoutes({ store, schedule, log, clock, guard, tokens, passwords, scraper, pulse: activity }))
        .use(apiReference(documentOf("observability", features))),
  };
  const portOf: Record<Role, number> = {
    gateway: config.server.gateway_port,
    registry: config.server.registry_port,
    ingest: config.server.ingest_port,
    dispatcher: config.server.dispatcher_port,
    retry: config.server.retry_port,
    observability: config.server.observability_port,
  };

  if (roles.includes("gateway")) await ensureAdmin({ store, log, print }, config.security.admin_password);
  // The gateway writes webhooks: it brings every stored secret to the current form (sealed with the
  // first of security.secret_keys) before serving, so an old key can be dropped once this is logged.
  if (roles.includes("gateway")) {
    const resealed = await store.resealSecrets().catch(async (err) => {
      await lifecycle.stop();
      throw new StartupError(`cannot rewrite webhook secrets: ${(err as Error).message}`);
    });
    if (resealed > 0) log.info({ resealed, sealing: secrets.sealing }, "webhook secrets rewritten in the current form");
  }
  if (!secrets.sealing) log.warn("webhook signing secrets are stored unsealed: set security.secret_keys to seal them at rest");
  if (roles.includes("gateway") || roles.includes("ingest")) backends.startProducerUpkeep();

  // One pool per process: the dispatcher and the retry manager share it, so the process runs at
  // most max_in_flight deliveries (max_in_flight_per_webhook each), whatever roles it runs.
  const delivering = roles.includes("dispatcher") || roles.includes("retry");
  const pool = delivering
    ? new DeliveryPool(attemptDeps, {
        maxInFlight: dispatcherConfig.max_in_flight,
        maxInFlightPerWebhook: dispatcherConfig.max_in_flight_per_webhook,
        maxQueueWaitMs: durationMs(dispatcherConfig.max_queue_wait),
        slowEndpointMs: durationMs(dispatcherConfig.slow_endpoint),
        breakers: breakerPolicy.consecutiveFailures > 0 || breakerPolicy.failureRatio > 0 ? new Breakers({ store: own.store, log }, breakerPolicy) : undefined,
        limits: new WebhookLimits({ rate: backends.rateLimiter, slots: backends.concurrencyLimiter, clock, log }, durationMs(dispatcherConfig.http_timeout) + 30_000),
      })
    : undefined;
  let dispatcher: Dispatcher | undefined;
  if (roles.includes("dispatcher")) {
    dispatcher = new Dispatcher(
      { ...attemptDeps, eventLog: own.eventLog, pool: pool! },
      {
        group: config.kafka.consumer_group,
        readBatch: dispatcherConfig.read_batch,
        maxPendingEvents: dispatcherConfig.max_pending_events,
        maxParkingEvents: dispatcherConfig.max_parking_events,
        maxPendingBytes: dispatcherConfig.max_pending_bytes,
        maxPendingDeliveries: dispatcherConfig.max_pending_deliveries,
        maxPendingDeliveriesPerCustomer: dispatcherConfig.max_pending_deliveries_per_customer,
        parkedPerSecondPerCustomer: dispatcherConfig.parked_per_second_per_customer,
        pollIntervalMs: durationMs(dispatcherConfig.poll_interval),
        subscriptionRefreshMs: durationMs(dispatcherConfig.subscription_refresh),
        shutdownTimeoutMs,
      },
    );
    dispatcher.start();
  }
  let retry: RetryManager | undefined;
  if (roles.includes("retry")) {
    const leaseMs = durationMs(retryConfig.lease);
    // Ordered webhooks' turns (delivery/sequencer.ts): the retry manager sends them, and claims at once when one is given.
    const sequencer = new Sequencer(attemptDeps, { intervalMs: durationMs(retryConfig.ordered_poll_interval), onScheduled: () => retry?.claimNow() });
    retry = new RetryManager(
      { ...attemptDeps, pool: pool!, sequencer },
      {
        pollIntervalMs: durationMs(retryConfig.poll_interval),
        batchSize: retryConfig.batch_size,
        leaseMs,
        maxPooled: dispatcherConfig.max_in_flight * 2,
        sweepIntervalMs: Math.max(1000, Math.min(leaseMs / 4, 30_000)),
        shutdownTimeoutMs,
      },
    );
    retry.start();
    sequencer.start();
    lifecycle.onStop("sequencer", () => sequencer.stop());
    // Bulk replays (recovery jobs): one process runs a job at a time, under a lease it renews.
    const recovery = new RecoveryRunner(attemptDeps, { pollIntervalMs: durationMs(retryConfig.poll_interval) * 2, leaseMs });
    recovery.start();
    lifecycle.onStop("recovery jobs", () => recovery.stop());
    // hookrelay's own events for the operational webhooks: this process's store's records, into the log.
    const relay = new OperationalRelay({ store: own.store, eventLog, clock, log }, durationMs(retryConfig.operational_poll_interval));
    relay.start();
    lifecycle.onStop("operational events", () => relay.stop());
    // Probes of paused webhooks: looked for twice per probe interval (at most once a second: a process
    // at rest asks the store once a second), each claimed with the retry lease (it covers one attempt).
    const prober = new Prober(attemptDeps, {
      policy: breakerPolicy,
      pollIntervalMs: Math.max(50, Math.min(1000, breakerPolicy.probeIntervalMs / 2)),
      leaseMs,
      drainPerSecond: health.drain_per_second,
    });
    prober.start();
    lifecycle.onStop("prober", () => prober.stop());
  }
  if (delivering)
    lifecycle.onStop("delivery", async () => {
      // Both stop taking work before the shared pool drains: nothing new enters it while it closes.
      await Promise.all([dispatcher?.halt(), retry?.halt()]);
      await Promise.all([dispatcher?.stop(), retry?.stop()]);
    });
  if (retry) {
    const stopRetention = startRetention({ store: own.store, clock, log }, durationMs(config.database.retention));
    lifecycle.onStop("retention", stopRetention);
  }

  // Read when /metrics is scraped (Prometheus, or the observability role's sampler), never on a timer.
  if (dispatcher) {
    const reading = dispatcher;
    metrics.sources.assignedPartitions = () => reading.assignedPartitions();
    metrics.sources.eventLogLag = () => reading.lag();
  }
  if (roles.includes("retry")) metrics.sources.retryQueueDepth = () => own.schedule.depth();
  metrics.sources.onError = (err, gauge) => log.warn({ err, gauge }, "could not read a gauge; it keeps its last value");

  let tls: TlsFiles | undefined;
  try {
    tls = tlsFiles(config);
  } catch (err) {
    await lifecycle.stop();
    throw new StartupError((err as Error).message);
  }
  // HTTP servers stop first (registered last): intake ends before the workers drain.
  const ports: Running["ports"] = {};
  await starting.stopServing();
  if (shard) {
    // Before the ingest port: other shards hand this one its customers' events as soon as they take any.
    let link: { stop(): Promise<void> };
    try {
      link = serveShard(shardSocketPath(config.database.data_dir, shard.index), {
        eventLog: own.eventLog,
        charge: (customerId, events) => rateGate.byCustomer("ingest", customerId, events),
        metrics: () => metrics.registry.metrics(),
      });
    } catch (err) {
      await lifecycle.stop();
      throw new StartupError((err as Error).message);
    }
    lifecycle.onStop("shard socket", () => link.stop());
  }
  for (const role of served) {
    let server: Listening;
    try {
      server =
        role === "registry"
          ? await startRegistry({ store, clock, checkTarget, webhookLimits, credentials, rateGate, log, checks: { store } }, config.server.host, portOf[role], shutdownTimeoutMs, tls)
          : listen(apps[role](), config.server.host, portOf[role], tls, edgeLimits(config.security), shard !== undefined && role === "ingest");
    } catch (err) {
      await lifecycle.stop();
      const inUse = (err as { code?: string }).code === "EADDRINUSE" || /EADDRINUSE|address already in use/i.test((err as Error).message);
      throw new StartupError(`${role}: cannot listen on ${config.server.host}:${portOf[role]}${inUse ? ": the port is in use" : `: ${(err as Error).message}`}`);
    }
    ports[role] = server.port;
    lifecycle.onStop(`${role} ${role === "registry" ? "grpc" : "http"}`, () => server.stop());
    log.info({ port: server.port, component: role }, "listening");
  }
  log.info({ version: VERSION, backends: backends.kind, roles }, "hookrelay started");
  // A person at a terminal is told where the listeners are and what is there (the dashboard, the
  // API docs). Not when stdout is piped: log collectors read every line as JSON. Shard 0 speaks for
  // the deployment: the other shards share its terminal, and only its ingest port.
  if (process.stdout.isTTY && !(shard && shard.index > 0)) for (const line of listenerLines(config.server.host, ports, tls !== undefined)) print(line);
  return { lifecycle, log, ports };
}
