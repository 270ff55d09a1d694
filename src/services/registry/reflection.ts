/**
 * @module Server reflection (`@grpc/reflection`, v1 and v1alpha) fed with the descriptors
 * protobuf-es generated, so grpcurl and friends need no .proto file.
 */
import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** `file` and everything it imports, each once. */
function withDependencies(file: DescFile, seen = new Map<string, DescFile>()): Map<string, DescFile> {
  if (seen.has(file.name)) return seen;
  seen.set(file.name, file);
  for (const dep of file.dependencies) withDependencies(dep, seen);
  return seen;
}

/** Adds reflection describing `services` (with their files' imports) to the server. */
export function addReflection(server: Server, services: DescService[]): void {
  const files = new Map<string, DescFile>();
  for (const service of services) withDependencies(service.file, files);
  const fileDescriptorProtos = [...files.values()].map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  // @grpc/reflection reads only `fileDescriptorProtos` of each entry (the shape proto-loader produces).
  const definition = Object.fromEntries(services.map((s) => [s.typeName, { fileDescriptorProtos }])) as unknown as PackageDefinition;
  new ReflectionService(definition).addToServer(server);
}
