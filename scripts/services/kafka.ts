/** @module The one Kafka broker: its jars fetched once, started afresh, started again on its log dir, and asked whether it answers. */

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { ENV, HOST, KAFKA_VERSION, type Log, logFile, PORTS, path, rel, seconds } from "./config.ts";
import { logTail, mustRun, run, type Spec, spawnDetached } from "./process.ts";

function kafkaCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "hookrelay", `kafka-${KAFKA_VERSION}`);
}
/** Whether the broker's jars for KAFKA_VERSION are in the cache already. */
export function kafkaCached(): boolean {
  return existsSync(join(kafkaCache(), "complete")) && existsSync(join(kafkaCache(), "libs", `kafka_2.13-${KAFKA_VERSION}.jar`));
}

/** The broker and its runtime dependencies from Maven Central, once per version. */
async function fetchKafka(log: Log): Promise<string> {
  const cache = kafkaCache();
  const libs = join(cache, "libs");
  if (kafkaCached()) return libs;
  const started = performance.now();
  log(`services: fetching kafka_2.13 ${KAFKA_VERSION} and its dependencies from Maven Central into ${cache}`);
  const work = mkdtempSync(join(tmpdir(), "hookrelay-kafka-fetch-"));
  const partial = join(cache, `libs.partial-${process.pid}`);
  const dep = (g: string, a: string, v: string) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  writeFileSync(
    join(work, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.hookrelay</groupId><artifactId>kafka-broker-fetch</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies>
    ${dep("org.apache.kafka", "kafka_2.13", KAFKA_VERSION)}
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></build>
</project>
`,
  );
  const mvn = ["mvn", "-q", "-B", "-f", join(work, "pom.xml")];
  try {
    rmSync(partial, { recursive: true, force: true });
    await mustRun("mvn dependency:copy-dependencies (Kafka broker jars)", [...mvn, "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${partial}`]);
    // The jars bring log4j but no SLF4J binding for it (the release tarball has one): without it the broker logs nothing.
    const log4j = readdirSync(partial)
      .map((f) => /^log4j-core-(.+)\.jar$/.exec(f)?.[1])
      .find(Boolean);
    if (log4j) {
      await mustRun("mvn dependency:copy (log4j SLF4J binding)", [...mvn, "dependency:copy", `-Dartifact=org.apache.logging.log4j:log4j-slf4j-impl:${log4j}`, `-DoutputDirectory=${partial}`]);
    }
    if (!existsSync(join(partial, `kafka_2.13-${KAFKA_VERSION}.jar`))) throw new Error(`mvn finished but ${partial} has no kafka_2.13-${KAFKA_VERSION}.jar`);
    rmSync(libs, { recursive: true, force: true });
    renameSync(partial, libs);
    writeFileSync(join(cache, "complete"), `${readdirSync(libs).sort().join("\n")}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(partial, { recursive: true, force: true });
  }
  log(`services: fetched Kafka ${KAFKA_VERSION} (${readdirSync(libs).length} jars) in ${seconds(started)}`);
  return libs;
}

/** A Kafka cluster id: 16 random bytes, base64url; never starting with "-", which reads as an option. */
function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

async function startKafka(log: Log): Promise<void> {
  const libs = await fetchKafka(log);
  const dir = path("kafka");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const props = join(dir, "server.properties");
  const log4j = join(dir, "log4j2.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@${HOST}:${PORTS.kafkaController}`,
      `listeners=PLAINTEXT://${HOST}:${PORTS.kafka},CONTROLLER://${HOST}:${PORTS.kafkaController}`,
      `advertised.listeners=PLAINTEXT://${HOST}:${PORTS.kafka}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      `log.dirs=${join(dir, "data")}`,
      "num.partitions=1",
      "auto.create.topics.enable=false",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "",
    ].join("\n"),
  );
  writeFileSync(
    log4j,
    [
      "appender.out.type = Console",
      "appender.out.name = OUT",
      "appender.out.layout.type = PatternLayout",
      "appender.out.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.out.ref = OUT",
      "",
    ].join("\n"),
  );
  const java = kafkaJava(libs, log4j);
  const formatted = await run([...java, "kafka.tools.StorageTool", "format", "-t", kafkaClusterId(), "-c", props]);
  writeFileSync(logFile("kafka"), formatted.out);
  if (formatted.code !== 0) throw new Error(`kafka storage format failed (exit ${formatted.code}); see ${rel(logFile("kafka"))}:\n${logTail("kafka")}`);

  spawnDetached("kafka", [...java, "kafka.Kafka", props], dir, "a");
}

function kafkaJava(libs: string, log4j: string): string[] {
  return ["java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true", `-Dlog4j2.configurationFile=${log4j}`, "-cp", `${libs}/*`];
}

/** The broker again with its server.properties and log dir as they are: no re-format, topics and offsets kept. */
async function resumeKafka(log: Log): Promise<void> {
  const libs = await fetchKafka(log);
  const dir = path("kafka");
  const props = join(dir, "server.properties");
  if (!existsSync(props) || !existsSync(join(dir, "data"))) throw new Error(`no Kafka data in ${dir} to start again on`);
  spawnDetached("kafka", [...kafkaJava(libs, join(dir, "log4j2.properties")), "kafka.Kafka", props], dir, "a");
}

/** A real metadata request, as the app's Kafka client makes it. */
async function kafkaAnswers(): Promise<boolean> {
  const { Admin } = await import("@platformatic/kafka");
  const admin = new Admin({ clientId: "hookrelay-services", bootstrapBrokers: [ENV.KAFKA_BROKERS], retries: 0, timeout: 3000, connectTimeout: 2000 });
  try {
    await admin.listTopics();
    return true;
  } finally {
    await admin.close().catch(() => {});
  }
}

export const kafkaSpec: Spec = {
  start: startKafka,
  answers: kafkaAnswers,
  ports: [PORTS.kafka, PORTS.kafkaController],
  timeoutMs: 120_000,
  signal: "SIGKILL",
  resume: resumeKafka,
  pauseSignal: "SIGTERM",
};
