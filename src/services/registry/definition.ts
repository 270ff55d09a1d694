/**
 * @module A `@grpc/grpc-js` service definition built from a protobuf-es service descriptor:
 * messages cross the wire with `toBinary`/`fromBinary` of the generated schemas.
 */
import { type DescMessage, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

function codec(schema: DescMessage) {
  return {
    // biome-ignore lint/suspicious/noExplicitAny: grpc-js types a method's messages per method; one codec serves every message type of the schema
    serialize: (message: any) => Buffer.from(toBinary(schema, message)),
    deserialize: (bytes: Buffer) => fromBinary(schema, bytes),
  };
}

/** One grpc-js method definition per RPC of `service`, keyed by its lowerCamelCase name. */
export function grpcDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: input.serialize,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize,
      responseDeserialize: output.deserialize,
    };
  }
  return definition;
}
