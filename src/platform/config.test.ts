/** @module Unit tests of configuration: defaults, YAML, environment overrides, every error at once, durations, the CLI's exit. */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backendProblem, ConfigError, describeConfig, envName, loadConfig, parseConfig } from "./config.ts";
import { durationMs } from "./duration.ts";

/** The three servers of production mode: one alone is a configuration error. */
const SERVERS = { DATABASE_URL: "postgres://db/hr", REDIS_URL: "redis://cache:6379", KAFKA_BROKERS: "k:9092" };
const yaml = (text: string) => ({ path: "/etc/hookrelay/config.yaml", text });

/** The problems a parse reports; fails the test when it does not throw a ConfigError. */
function problemsOf(sources: Parameters<typeof parseConfig>[0]): string[] {
  try {
    parseConfig(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError, but the configuration was accepted");
}

describe("parseConfig defaults", () => {
  it("gives the documented defaults with no file and no environment", () => {
    const config = parseConfig({ env: {} });
    expect(config.server).toEqual({
      host: "0.0.0.0",
      gateway_port: 8080,
      registry_port: 8081,
      ingest_port: 8082,
      dispatcher_port: 8083,
      retry_port: 8084,
      observability_port: 8085,
      tls_cert_file: "",
      tls_key_file: "",
    });
    expect(config.retry_manager.max_retries).toBe(5);
    expect(config.retry_manager.initial_delay).toBe("1s");
    expect(config.retry_manager.max_delay).toBe("300s");
    expect(config.retry_manager.backoff_multiplier).toBe(2);
    expect(config.database.url).toBe("");
    expect(config.database.data_dir).toBe("./data");
    expect(config.kafka.brokers).toEqual([]);
    expect(config.security.allow_private_targets).toBe(false);
    expect(config.observability.log_level).toBe("info");
  });

  it("ignores environment variables that are not configuration", () => {
    expect(parseConfig({ env: { PATH: "/usr/bin", HOME: "/root" } }).server.gateway_port).toBe(8080);
  });
});

describe("parseConfig from a YAML file", () => {
  it("takes values from the file and keeps defaults for the rest", () => {
    const config = parseConfig({
      env: {},
      file: yaml(`
server:
  gateway_port: 9080
retry_manager:
  initial_delay: 100ms
  backoff_multiplier: 1.5
kafka:
  brokers: [k1:9092, k2:9092]
database:
  url: postgres://db/hr
redis:
  url: redis://cache:6379
security:
  allow_private_targets: true
`),
    });
    expect(config.server.gateway_port).toBe(9080);
    expect(config.server.ingest_port).toBe(8082);
    expect(config.retry_manager.initial_delay).toBe("100ms");
    expect(config.retry_manager.backoff_multiplier).toBe(1.5);
    expect(config.retry_manager.max_retries).toBe(5);
    expect(config.kafka.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(config.security.allow_private_targets).toBe(true);
  });

  it("accepts an empty file", () => {
    expect(parseConfig({ env: {}, file: yaml("") }).server.gateway_port).toBe(8080);
  });

  it("reports a file that is not YAML, naming the file", () => {
    const problems = problemsOf({ env: {}, file: yaml("server: [1, 2") });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("/etc/hookrelay/config.yaml: not valid YAML");
  });

  it("reports a file whose top level is not a mapping", () => {
    expect(problemsOf({ env: {}, file: yaml("- a\n- b\n") })).toEqual(["/etc/hookrelay/config.yaml: top level must be a mapping of sections"]);
  });

  it("rejects unknown keys and unknown sections, naming each and the file", () => {
    const problems = problemsOf({ env: {}, file: yaml("server:\n  gateway_prot: 1\nretries:\n  max: 3\n") });
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith("server.gateway_prot:"))).toContain("[from /etc/hookrelay/config.yaml]");
    expect(problems.find((p) => p.startsWith("retries:"))).toContain("[from /etc/hookrelay/config.yaml]");
  });

  it("does not truncate a fractional number given for an integer", () => {
    const problems = problemsOf({ env: {}, file: yaml("server:\n  gateway_port: 80.5\n") });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("server.gateway_port:");
  });

  it("does not read true as 1 for a number", () => {
    expect(problemsOf({ env: {}, file: yaml("retry_manager:\n  max_retries: true\n") })[0]).toStartWith("retry_manager.max_retries:");
  });
});

describe("parseConfig from the environment", () => {
  it("names every key HOOKRELAY_<SECTION>_<KEY>", () => {
    expect(envName("retry_manager.initial_delay")).toBe("HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY");
    expect(envName("server.dispatcher_port")).toBe("HOOKRELAY_SERVER_DISPATCHER_PORT");
    const described = describeConfig();
    expect(described.find((d) => d.key === "retry_manager.initial_delay")).toMatchObject({
      env: "HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY",
      default: "1s",
    });
  });

  it("overrides retry_manager.initial_delay with HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY", () => {
    const config = parseConfig({ env: { HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms" } });
    expect(config.retry_manager.initial_delay).toBe("100ms");
  });

  it("beats the file", () => {
    const config = parseConfig({
      env: { HOOKRELAY_SERVER_DISPATCHER_PORT: "9083" },
      file: yaml("server:\n  dispatcher_port: 7083\n  gateway_port: 7080\n"),
    });
    expect(config.server.dispatcher_port).toBe(9083);
    expect(config.server.gateway_port).toBe(7080);
  });

  it("converts numbers, booleans and strings to the key's type", () => {
    const config = parseConfig({
      env: {
        HOOKRELAY_SERVER_DISPATCHER_PORT: "9083",
        HOOKRELAY_RETRY_MANAGER_BACKOFF_MULTIPLIER: "1.5",
        HOOKRELAY_RETRY_MANAGER_JITTER: "0",
        HOOKRELAY_DATABASE_AUTO_MIGRATE: "false",
        HOOKRELAY_SECURITY_ALLOW_PRIVATE_TARGETS: "true",
        HOOKRELAY_SERVER_HOST: "127.0.0.1",
        HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn",
      },
    });
    expect(config.server.dispatcher_port).toBe(9083);
    expect(config.retry_manager.backoff_multiplier).toBe(1.5);
    expect(config.retry_manager.jitter).toBe(0);
    expect(config.database.auto_migrate).toBe(false);
    expect(config.security.allow_private_targets).toBe(true);
    expect(config.server.host).toBe("127.0.0.1");
    expect(config.observability.log_level).toBe("warn");
  });

  it("splits an array variable on commas and trims the parts", () => {
    expect(parseConfig({ env: { ...SERVERS, HOOKRELAY_KAFKA_BROKERS: "a:9092, b:9092 ,," } }).kafka.brokers).toEqual(["a:9092", "b:9092"]);
  });

  it("reads KAFKA_BROKERS as a comma list", () => {
    expect(parseConfig({ env: { ...SERVERS, KAFKA_BROKERS: "k1:9092,k2:9092,k3:9092" } }).kafka.brokers).toEqual(["k1:9092", "k2:9092", "k3:9092"]);
  });

  it("reads the well-known aliases DATABASE_URL, REDIS_URL, HOOKRELAY_DATA_DIR, HOOKRELAY_ADMIN_PASSWORD, HOOKRELAY_ALLOW_PRIVATE_TARGETS", () => {
    const config = parseConfig({
      env: {
        DATABASE_URL: "postgres://u:p@localhost/hr",
        REDIS_URL: "redis://localhost:6379",
        KAFKA_BROKERS: "localhost:9092",
        HOOKRELAY_DATA_DIR: "/var/lib/hookrelay",
        HOOKRELAY_ADMIN_PASSWORD: "hunter2hunter2",
        HOOKRELAY_ALLOW_PRIVATE_TARGETS: "true",
      },
    });
    expect(config.database.url).toBe("postgres://u:p@localhost/hr");
    expect(config.redis.url).toBe("redis://localhost:6379");
    expect(config.database.data_dir).toBe("/var/lib/hookrelay");
    expect(config.security.admin_password).toBe("hunter2hunter2");
    expect(config.security.allow_private_targets).toBe(true);
  });

  it("lets the specific variable beat the alias", () => {
    const config = parseConfig({
      env: {
        DATABASE_URL: "postgres://alias/db",
        HOOKRELAY_DATABASE_URL: "postgres://specific/db",
        HOOKRELAY_DATA_DIR: "/alias",
        HOOKRELAY_DATABASE_DATA_DIR: "/specific",
        KAFKA_BROKERS: "alias:9092",
        HOOKRELAY_KAFKA_BROKERS: "specific:9092",
        REDIS_URL: "redis://cache:6379",
      },
    });
    expect(config.database.url).toBe("postgres://specific/db");
    expect(config.database.data_dir).toBe("/specific");
    expect(config.kafka.brokers).toEqual(["specific:9092"]);
  });

  it("names the variable an error came from, alias included", () => {
    expect(problemsOf({ env: { HOOKRELAY_ALLOW_PRIVATE_TARGETS: "yes" } })).toEqual(['security.allow_private_targets: Expected boolean (got "yes") [from HOOKRELAY_ALLOW_PRIVATE_TARGETS]']);
  });

  it.each(["80.5", "1e3", "0x10", "", "eighty"])("rejects %p for an integer instead of guessing", (value) => {
    const problems = problemsOf({ env: { HOOKRELAY_SERVER_GATEWAY_PORT: value } });
    expect(problems).toEqual([`server.gateway_port: Expected integer (got ${JSON.stringify(value)}) [from HOOKRELAY_SERVER_GATEWAY_PORT]`]);
  });

  it("rejects out-of-range numbers", () => {
    expect(problemsOf({ env: { HOOKRELAY_SERVER_GATEWAY_PORT: "70000" } })[0]).toContain("server.gateway_port");
    expect(problemsOf({ env: { HOOKRELAY_RETRY_MANAGER_JITTER: "1.5" } })[0]).toContain("retry_manager.jitter");
    expect(problemsOf({ env: { HOOKRELAY_RETRY_MANAGER_BACKOFF_MULTIPLIER: "true" } })[0]).toContain("retry_manager.backoff_multiplier");
  });

  it("rejects a value outside an enumeration", () => {
    expect(problemsOf({ env: { HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "loud" } })[0]).toStartWith("observability.log_level:");
  });
});

describe("parseConfig errors", () => {
  it("reports every bad key at once, each with its key and where it came from", () => {
    const problems = problemsOf({
      env: {
        HOOKRELAY_SERVER_GATEWAY_PORT: "abc",
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "5 sec",
        HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT: "0",
      },
      file: yaml("database:\n  auto_migrate: maybe\nobservability:\n  colour: blue\n"),
    });
    expect(problems).toHaveLength(5);
    const find = (key: string) => problems.find((p) => p.startsWith(`${key}:`)) ?? `(no problem for ${key})`;
    expect(find("server.gateway_port")).toEndWith("[from HOOKRELAY_SERVER_GATEWAY_PORT]");
    expect(find("retry_manager.initial_delay")).toEndWith("[from HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY]");
    expect(find("dispatcher.max_in_flight")).toEndWith("[from HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT]");
    expect(find("database.auto_migrate")).toEndWith("[from /etc/hookrelay/config.yaml]");
    expect(find("observability.colour")).toEndWith("[from /etc/hookrelay/config.yaml]");
  });

  it("puts every problem in the error message too", () => {
    try {
      parseConfig({ env: { HOOKRELAY_SERVER_GATEWAY_PORT: "abc", HOOKRELAY_SERVER_INGEST_PORT: "xyz" } });
      throw new Error("accepted");
    } catch (err) {
      expect((err as Error).name).toBe("ConfigError");
      expect((err as Error).message).toContain("server.gateway_port");
      expect((err as Error).message).toContain("server.ingest_port");
    }
  });

  it.each(["5 sec", "10", "1w", "-1s", "ms", "1.s"])("rejects the duration %p with a hint", (value) => {
    expect(problemsOf({ env: { HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: value } })).toEqual([
      `dispatcher.http_timeout: expected a duration like 100ms, 1s, 5m, 30d (got ${JSON.stringify(value)}) [from HOOKRELAY_DISPATCHER_HTTP_TIMEOUT]`,
    ]);
  });

  it("rejects a jwt_secret shorter than 32 characters but accepts empty and long ones", () => {
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_SECRET: "short" } })).toEqual(["security.jwt_secret: must be at least 32 characters (or empty to generate one)"]);
    expect(parseConfig({ env: { HOOKRELAY_SECURITY_JWT_SECRET: "x".repeat(32) } }).security.jwt_secret).toHaveLength(32);
    expect(parseConfig({ env: { HOOKRELAY_SECURITY_JWT_SECRET: "" } }).security.jwt_secret).toBe("");
  });

  it("asks RS256 and EdDSA for a private key file, and HS256 for none", () => {
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_ALGORITHM: "RS256" } })).toEqual(["security.jwt_private_key_file: required when security.jwt_algorithm is RS256 (a PEM PKCS#8 private key)"]);
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: "/keys/jwt.pem" } })).toEqual([
      "security.jwt_private_key_file: only used with RS256 or EdDSA; HS256 signs with security.jwt_secret",
    ]);
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_ALGORITHM: "HS512" } })[0]).toStartWith("security.jwt_algorithm:");
    const ed = parseConfig({ env: { HOOKRELAY_SECURITY_JWT_ALGORITHM: "EdDSA", HOOKRELAY_SECURITY_JWT_PRIVATE_KEY_FILE: "/k.pem", HOOKRELAY_SECURITY_JWT_PREVIOUS_KEYS: "/old1.pem,/old2.pem" } });
    expect(ed.security).toMatchObject({ jwt_algorithm: "EdDSA", jwt_private_key_file: "/k.pem", jwt_previous_keys: ["/old1.pem", "/old2.pem"] });
  });

  it("refuses previous HS256 secrets shorter than 32 characters and a clock skew over 5m", () => {
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_PREVIOUS_KEYS: `${"x".repeat(32)},short` } })).toEqual(["security.jwt_previous_keys[1]: an HS256 secret must be at least 32 characters"]);
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_CLOCK_SKEW: "6m" } })).toEqual(["security.jwt_clock_skew: at most 5m (a longer skew keeps expired tokens alive)"]);
    expect(parseConfig({ env: { HOOKRELAY_SECURITY_JWT_CLOCK_SKEW: "5m" } }).security.jwt_clock_skew).toBe("5m");
  });

  it("takes allowed target ranges from a comma-separated variable and names the bad ones", () => {
    expect(parseConfig({ env: { HOOKRELAY_SECURITY_ALLOWED_TARGET_CIDRS: "10.20.0.0/16, fd00::/8" } }).security.allowed_target_cidrs).toEqual(["10.20.0.0/16", "fd00::/8"]);
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_ALLOWED_TARGET_CIDRS: "10.20.0.0/16,10.1.2.3/8,intranet" } })).toEqual([
      "security.allowed_target_cidrs[1]: '10.1.2.3/8' is not a range like 10.20.0.0/16 or fd00::/8 (address/bits, no bits set past the prefix)",
      "security.allowed_target_cidrs[2]: 'intranet' is not a range like 10.20.0.0/16 or fd00::/8 (address/bits, no bits set past the prefix)",
    ]);
  });

  it("takes the observability role's scrape targets from a comma-separated variable and names the bad ones", () => {
    const targets = "http://dispatcher:8083/metrics, https://10.0.0.7:8084/metrics";
    expect(parseConfig({ env: { HOOKRELAY_OBSERVABILITY_SCRAPE_TARGETS: targets } }).observability.scrape_targets).toEqual(["http://dispatcher:8083/metrics", "https://10.0.0.7:8084/metrics"]);
    expect(problemsOf({ env: { HOOKRELAY_OBSERVABILITY_SCRAPE_TARGETS: "http://ok:1/metrics,dispatcher:8083,ftp://x/metrics", HOOKRELAY_OBSERVABILITY_SCRAPE_INTERVAL: "10ms" } })).toEqual([
      "observability.scrape_targets[1]: 'dispatcher:8083' is not an http(s) URL like http://dispatcher:8083/metrics",
      "observability.scrape_targets[2]: 'ftp://x/metrics' is not an http(s) URL like http://dispatcher:8083/metrics",
      "observability.scrape_interval: must be at least 100ms",
    ]);
  });

  it("takes the portal's frame ancestors as CSP origins, and refuses anything that would change the policy or is no origin", () => {
    const ancestors = "https://app.example.com, https://*.example.com:8443,'self'";
    expect(parseConfig({ env: { HOOKRELAY_PORTAL_FRAME_ANCESTORS: ancestors, HOOKRELAY_PORTAL_PUBLIC_URL: "https://hooks.example.com/relay" } }).portal).toEqual({
      public_url: "https://hooks.example.com/relay",
      frame_ancestors: ["https://app.example.com", "https://*.example.com:8443", "'self'"],
      link_ttl: "1h",
    });
    expect(
      problemsOf({
        env: {
          HOOKRELAY_PORTAL_FRAME_ANCESTORS: "https://ok.example.com,https://a.com; script-src *,*,app.example.com,'unsafe-inline'",
          HOOKRELAY_PORTAL_PUBLIC_URL: "hooks.example.com",
          HOOKRELAY_PORTAL_LINK_TTL: "25h",
        },
      }),
    ).toEqual([
      "portal.public_url: 'hooks.example.com' is not an http(s) address like https://hooks.example.com (no query or fragment)",
      "portal.frame_ancestors[1]: 'https://a.com; script-src *' is not an origin like https://app.example.com, https://*.example.com or 'self'",
      "portal.frame_ancestors[2]: '*' is not an origin like https://app.example.com, https://*.example.com or 'self'",
      "portal.frame_ancestors[3]: 'app.example.com' is not an origin like https://app.example.com, https://*.example.com or 'self'",
      "portal.frame_ancestors[4]: ''unsafe-inline'' is not an origin like https://app.example.com, https://*.example.com or 'self'",
      "portal.link_ttl: between 1s and 24h",
    ]);
    expect(problemsOf({ env: { HOOKRELAY_PORTAL_PUBLIC_URL: "https://hooks.example.com/?x=1" } })).toEqual([
      "portal.public_url: 'https://hooks.example.com/?x=1' is not an http(s) address like https://hooks.example.com (no query or fragment)",
    ]);
  });

  it("asks an external issuer for both its iss and an https JWKS, a distinct iss and known algorithms", () => {
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_OAUTH2_ISSUER: "https://idp/" } })).toEqual([
      "security.oauth2_issuer and security.oauth2_jwks_url: set both to accept an external issuer's tokens, or neither",
    ]);
    expect(
      problemsOf({ env: { HOOKRELAY_SECURITY_OAUTH2_ISSUER: "hookrelay", HOOKRELAY_SECURITY_OAUTH2_JWKS_URL: "http://idp.example.com/jwks", HOOKRELAY_SECURITY_OAUTH2_ALGORITHMS: "RS256,HS256" } }),
    ).toEqual([
      "security.oauth2_issuer: must differ from security.jwt_issuer ('hookrelay'), or its tokens could not be told from hookrelay's own",
      "security.oauth2_jwks_url: must be https (http only on loopback): the keys decide who may call",
      "security.oauth2_algorithms: HS256 not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA",
    ]);
    const ok = parseConfig({ env: { HOOKRELAY_SECURITY_OAUTH2_ISSUER: "https://idp/", HOOKRELAY_SECURITY_OAUTH2_JWKS_URL: "http://127.0.0.1:9/jwks" } });
    expect(ok.security).toMatchObject({ oauth2_algorithms: ["RS256"], oauth2_scope_claim: "scope", oauth2_customer_claim: "customer_id" });
  });

  it("rejects a retry lease not longer than the HTTP timeout", () => {
    const equal = problemsOf({ env: { HOOKRELAY_RETRY_MANAGER_LEASE: "30s", HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "30s" } });
    expect(equal).toHaveLength(1);
    expect(equal[0]).toStartWith("retry_manager.lease: must be longer than dispatcher.http_timeout");
    expect(parseConfig({ env: { HOOKRELAY_RETRY_MANAGER_LEASE: "31s", HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "30s" } }).retry_manager.lease).toBe("31s");
  });

  it("rejects initial_delay above max_delay and a per-webhook limit above the total", () => {
    const problems = problemsOf({
      env: {
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "10m",
        HOOKRELAY_RETRY_MANAGER_MAX_DELAY: "1m",
        HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT: "4",
        HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: "8",
      },
    });
    expect(problems).toEqual(["dispatcher.max_in_flight_per_webhook: must not exceed dispatcher.max_in_flight", "retry_manager.initial_delay: must not exceed retry_manager.max_delay"]);
  });

  it("reports every cross-field problem at once", () => {
    expect(problemsOf({ env: { HOOKRELAY_SECURITY_JWT_SECRET: "short", HOOKRELAY_RETRY_MANAGER_LEASE: "1s" } })).toHaveLength(2);
  });
});

describe("durationMs", () => {
  it.each([
    ["100ms", 100],
    ["1s", 1000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["30d", 2_592_000_000],
    ["0ms", 0],
    ["300s", 300_000],
  ])("reads %p as %d ms", (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each(["5 sec", "10", "", "s", "1w", "-5s", "1,5s", "5S"])("rejects %p", (text) => {
    expect(() => durationMs(text)).toThrow(`'${text}' is not a duration`);
  });
});

describe("loadConfig", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "hookrelay-config-"));
    dirs.push(dir);
    return dir;
  };

  it("reads the file named by HOOKRELAY_CONFIG", async () => {
    const path = join(tempDir(), "custom.yaml");
    await Bun.write(path, "server:\n  gateway_port: 18080\n");
    expect(loadConfig({ HOOKRELAY_CONFIG: path }).server.gateway_port).toBe(18080);
  });

  it("fails when HOOKRELAY_CONFIG names a missing file", () => {
    const path = join(tempDir(), "missing.yaml");
    expect(() => loadConfig({ HOOKRELAY_CONFIG: path })).toThrow(ConfigError);
  });
});

describe("hookrelay CLI with bad configuration", () => {
  it("exits 1 and prints every configuration error", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "hookrelay-cli-"));
    try {
      const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../cli/main.ts"), "gateway"], {
        cwd,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: cwd,
          HOOKRELAY_DATA_DIR: join(cwd, "data"),
          HOOKRELAY_SERVER_GATEWAY_PORT: "not-a-port",
          HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "5 sec",
        },
        stdout: "pipe",
        stderr: "pipe",
      });
      const timer = setTimeout(() => proc.kill(), 20_000);
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(stderr).toContain("invalid configuration");
      expect(stderr).toContain('server.gateway_port: Expected integer (got "not-a-port") [from HOOKRELAY_SERVER_GATEWAY_PORT]');
      expect(stderr).toContain('retry_manager.initial_delay: expected a duration like 100ms, 1s, 5m, 30d (got "5 sec") [from HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY]');
      expect(stderr).not.toContain("    at ");
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe("production mode", () => {
  it("needs PostgreSQL, Redis and Kafka together, naming what is set", () => {
    expect(backendProblem(parseConfig({ env: { DATABASE_URL: "postgres://db/hr", KAFKA_BROKERS: "k:9092" } }))).toBe(
      "production mode needs database.url, redis.url and kafka.brokers together (DATABASE_URL, REDIS_URL, KAFKA_BROKERS); only database.url, kafka.brokers are set",
    );
    expect(backendProblem(parseConfig({ env: SERVERS }))).toBeNull();
    expect(backendProblem(parseConfig({ env: {} }))).toBeNull();
  });
});

describe("unknown variables", () => {
  it("refuses a HOOKRELAY_<SECTION>_<KEY> variable that names no key, listing the section's keys", () => {
    let problems: string[] = [];
    try {
      parseConfig({ env: { HOOKRELAY_RETRY_MANAGER_INITAL_DELAY: "1s", HOOKRELAY_DATA_DIR: "/tmp/x" } });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("HOOKRELAY_RETRY_MANAGER_INITAL_DELAY: not a configuration key; retry_manager has max_retries, initial_delay");
  });
});

describe("removed keys", () => {
  // Refused like any unknown key (nothing set is silently ignored), but with the reason, so an
  // operator upgrading with an old config.yaml or deployment knows to delete the line.
  const why = "no longer a configuration key (every webhook request goes through fetch; hookrelay's own HTTP/1.1 client was removed)";

  it("refuses dispatcher.http_client in the file once, saying it was removed and where it came from", () => {
    for (const value of ['"http1"', '"fetch"', ""]) {
      const problems = problemsOf({ env: {}, file: yaml(`dispatcher:\n  max_in_flight: 8\n  http_client: ${value}\n`) });
      expect(problems).toEqual([`dispatcher.http_client: ${why}; delete it [from /etc/hookrelay/config.yaml]`]);
    }
  });

  it("refuses HOOKRELAY_DISPATCHER_HTTP_CLIENT, saying it was removed", () => {
    expect(problemsOf({ env: { HOOKRELAY_DISPATCHER_HTTP_CLIENT: "fetch" } })).toEqual([`HOOKRELAY_DISPATCHER_HTTP_CLIENT: dispatcher.http_client is ${why}; unset it`]);
  });

  it("reports the removed key alongside the file's other problems", () => {
    const problems = problemsOf({ env: {}, file: yaml("dispatcher:\n  http_client: http1\n  max_in_flight: 0\n") });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toStartWith("dispatcher.http_client: no longer a configuration key");
    expect(problems[1]).toStartWith("dispatcher.max_in_flight:");
  });
});
