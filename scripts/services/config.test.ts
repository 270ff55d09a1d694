// Two checkouts on one machine each run `bun run services:up`: the second moves its services with
// HOOKRELAY_SERVICES_*_PORT, and its .services/env (what its tests and bench connect to) follows.
import { describe, expect, it } from "bun:test";
import { servicePorts, servicesEnv } from "./config.ts";

describe("services' ports", () => {
  it("are the defaults unless a variable moves one, and the clients' addresses follow", () => {
    expect(servicePorts({})).toEqual({ postgres: 54329, redis: 63799, kafka: 9092, kafkaController: 9093 });
    const moved = servicePorts({
      HOOKRELAY_SERVICES_POSTGRES_PORT: "55432",
      HOOKRELAY_SERVICES_REDIS_PORT: " 6380 ",
      HOOKRELAY_SERVICES_KAFKA_PORT: "19092",
      HOOKRELAY_SERVICES_KAFKA_CONTROLLER_PORT: "19093",
    });
    expect(moved).toEqual({ postgres: 55432, redis: 6380, kafka: 19092, kafkaController: 19093 });
    expect(servicesEnv(moved)).toEqual({
      DATABASE_URL: "postgres://hookrelay@127.0.0.1:55432/hookrelay",
      REDIS_URL: "redis://127.0.0.1:6380",
      KAFKA_BROKERS: "127.0.0.1:19092",
    });
  });

  it("refuses a value that is not a port, naming the variable", () => {
    for (const bad of ["0", "65536", "54.5", "postgres", "-1"])
      expect(() => servicePorts({ HOOKRELAY_SERVICES_POSTGRES_PORT: bad })).toThrow(`HOOKRELAY_SERVICES_POSTGRES_PORT=${bad}: expected a port number from 1 to 65535`);
  });

  it("refuses two services on one port", () => {
    expect(() => servicePorts({ HOOKRELAY_SERVICES_REDIS_PORT: "9092" })).toThrow("port 9092 is also");
  });
});
