import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js'
import type protobuf from 'protobufjs'
import { loadSchema } from '../../protobuf/schema.js'

/**
 * grpc-js service definitions built straight from the protobufjs types of `api/` (no
 * proto-loader). Messages travel as protobufjs objects with the proto field names (`keepCase`):
 *
 * - requests are the decoded message instances: absent scalars read as their defaults, absent
 *   messages as `null`, maps and repeated fields as (possibly shared, frozen) empty ones, bytes
 *   as Buffers that are views into the request, enums as numbers, 64-bit integers as Long;
 * - responses are plain objects encoded as they are: enums must be numbers, bytes Uint8Array,
 *   64-bit integers numbers or decimal strings (bigint: convert with `String()` first).
 *
 * Nothing is converted twice: decode → handler → encode.
 */
export interface MessageCodec<T = unknown> {
  serialize(value: T): Buffer
  deserialize(bytes: Buffer): T
}

const codecs = new WeakMap<protobuf.Type, MessageCodec>()

export function messageCodec(type: protobuf.Type): MessageCodec {
  let c = codecs.get(type)
  if (c === undefined) {
    c = {
      serialize: (value) => {
        const bytes = type.encode(value as Record<string, unknown>).finish()
        // protobufjs uses a Buffer writer in Node; the check covers a browser-style writer.
        return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      },
      deserialize: (bytes) => type.decode(bytes),
    }
    codecs.set(type, c)
  }
  return c
}

export interface MethodInfo {
  name: string
  path: string
  requestStream: boolean
  responseStream: boolean
}

const definitions = new Map<string, { definition: ServiceDefinition; methods: MethodInfo[] }>()

/**
 * The grpc-js definition of `service` (full name, e.g. `dapr.proto.runtime.v1.Dapr`), keyed by
 * the proto method names. Built once per thread.
 */
export function serviceDefinition(service: string, root: protobuf.Root = loadSchema()): { definition: ServiceDefinition; methods: MethodInfo[] } {
  const cached = definitions.get(service)
  if (cached !== undefined) return cached
  const svc = root.lookupService(service)
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {}
  const methods: MethodInfo[] = []
  for (const m of svc.methodsArray) {
    m.resolve()
    const req = messageCodec(m.resolvedRequestType!)
    const res = messageCodec(m.resolvedResponseType!)
    const info: MethodInfo = { name: m.name, path: `/${service}/${m.name}`, requestStream: m.requestStream === true, responseStream: m.responseStream === true }
    const def: MethodDefinition<unknown, unknown> = {
      path: info.path,
      requestStream: info.requestStream,
      responseStream: info.responseStream,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: m.name,
    }
    definition[m.name] = def
    methods.push(info)
  }
  const out = { definition: definition as ServiceDefinition, methods }
  definitions.set(service, out)
  return out
}
