import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MessageValidator } from '../../../source/common/protobuf/message-validator.js'
import { loadSchema } from '../../../source/common/protobuf/schema.js'
import { durationToMs, formatDuration, parseDuration } from '../../../source/common/protobuf/duration.js'

const v = new MessageValidator(loadSchema())
const BOOT = 'envoy.config.bootstrap.v3.Bootstrap'

function errorsOf(input: unknown, type = BOOT): string[] {
  return v.validate(type, input).errors
}

describe('durations', () => {
  it('parses and prints the JSON form', () => {
    assert.deepEqual(parseDuration('1.5s'), { seconds: 1, nanos: 500000000 })
    assert.equal(formatDuration({ seconds: 0, nanos: 250000000 }), '0.250s')
    assert.equal(formatDuration({ seconds: 5, nanos: 0 }), '5s')
    assert.equal(formatDuration({ seconds: 1, nanos: 1 }), '1.000000001s')
    assert.equal(durationToMs('0.25s', 0), 250)
    assert.equal(durationToMs(undefined, 7), 7)
    assert.equal(parseDuration('5'), undefined)
    assert.equal(parseDuration('5ms'), undefined)
  })
})

describe('MessageValidator', () => {
  it('normalizes durations, wrappers, enums and fills proto3 defaults', () => {
    const r = v.validate<Record<string, any>>('envoy.config.cluster.v3.Cluster', {
      name: 'c', connect_timeout: '0.25s', per_connection_buffer_limit_bytes: { value: 1024 },
      lb_policy: 2, type: 'STRICT_DNS', dns_refresh_rate: { seconds: 2, nanos: 0 },
    })
    assert.deepEqual(r.errors, [])
    assert.equal(r.value.connect_timeout, '0.250s')
    assert.equal(r.value.dns_refresh_rate, '2s')
    assert.equal(r.value.per_connection_buffer_limit_bytes, 1024)
    assert.equal(r.value.lb_policy, 'RING_HASH')
    assert.equal(r.value.type, 'STRICT_DNS')
    assert.equal(r.value.alt_stat_name, '')
    assert.deepEqual(r.value.health_checks, [])
    assert.equal(r.value.load_assignment, undefined)
  })

  it('accepts lowerCamelCase JSON names and stores proto names', () => {
    const r = v.validate<Record<string, any>>('envoy.config.cluster.v3.Cluster', { name: 'c', connectTimeout: '1s' })
    assert.deepEqual(r.errors, [])
    assert.equal(r.value.connect_timeout, '1s')
  })

  it('reports every error with its path', () => {
    const errors = errorsOf({
      static_resources: {
        listeners: [{ name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 70000 } }, bogus: 1 }],
        clusters: [{ name: '', connect_timeout: 'soon' }],
      },
    })
    assert.ok(errors.includes('static_resources.listeners[0].address.socket_address.port_value: value must be less than or equal to 65535'), errors.join('\n'))
    assert.ok(errors.some((e) => e.startsWith('static_resources.listeners[0].bogus: unknown field')), errors.join('\n'))
    assert.ok(errors.some((e) => e.startsWith('static_resources.clusters[0].name: value must not be empty')), errors.join('\n'))
    assert.ok(errors.some((e) => e.startsWith('static_resources.clusters[0].connect_timeout: expected a duration')), errors.join('\n'))
  })

  it('suggests the nearest field name', () => {
    const errors = errorsOf({ admin: { adress: {} } })
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /^admin\.adress: unknown field in envoy\.config\.bootstrap\.v3\.Admin \(did you mean "address"\?\)$/)
  })

  it('enforces oneof exclusivity and required oneofs', () => {
    const both = errorsOf({ socket_address: { address: 'a', port_value: 1, named_port: 'http' } }, 'envoy.config.core.v3.Address')
    assert.ok(both.some((e) => /only one of .*port_value.*named_port/.test(e)), both.join('\n'))
  })

  it('resolves Any by @type and validates its body', () => {
    const errors = errorsOf({
      static_resources: {
        listeners: [{
          name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
          filter_chains: [{ filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', clustr: 'b' } }] }],
        }],
      },
    })
    assert.ok(errors.some((e) => e.startsWith('static_resources.listeners[0].filter_chains[0].filters[0].typed_config.clustr: unknown field')), errors.join('\n'))
    const unknownType = errorsOf({ name: 'f', typed_config: { '@type': 'type.googleapis.com/no.such.Type' } }, 'envoy.config.listener.v3.Filter')
    assert.deepEqual(unknownType, ['typed_config: unknown type URL "type.googleapis.com/no.such.Type": envoy-ts has no message no.such.Type'])
  })

  it('rejects a type URL naming no message (empty, the root, an absolute path) as unknown', () => {
    // Found by the bootstrap fuzzer (test/fuzz/bootstrap-validate.ts): "type.googleapis.com/"
    // looked up the schema's root namespace and failed with "type.fieldsArray is not iterable".
    for (const url of ['type.googleapis.com/', '/', 'type.googleapis.com/.', 'type.googleapis.com/.envoy.extensions.filters.network.echo.v3.Echo']) {
      const errors = errorsOf({ name: 'f', typed_config: { '@type': url } }, 'envoy.config.listener.v3.Filter')
      assert.equal(errors.length, 1, `${url}: ${errors.join('\n')}`)
      assert.match(errors[0]!, /^typed_config: unknown type URL "/, url)
    }
  })

  it('rejects fields envoy-ts does not implement, with the reason', () => {
    const errors = errorsOf({ dynamic_resources: {} })
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /^dynamic_resources: not supported by envoy-ts yet: /)
  })

  it('reports type mismatches', () => {
    const errors = errorsOf({ node: { id: 5, cluster: ['x'] }, stats_flush_interval: 10 })
    assert.ok(errors.includes('node.id: expected a string, got number 5 (quote it)'), errors.join('\n'))
    assert.ok(errors.includes('node.cluster: expected a string, got a list'), errors.join('\n'))
    assert.ok(errors.some((e) => e.startsWith('stats_flush_interval: expected a duration')), errors.join('\n'))
  })

  it('drops unknown fields when asked and lists them', () => {
    const r = v.validate(BOOT, { node: { id: 'a', extra: 1 }, more: true }, '', { allowUnknownFields: true })
    assert.deepEqual(r.errors, [])
    assert.deepEqual(r.unknownFields.sort(), ['more', 'node.extra'])
  })

  it('checks integer ranges and enum names', () => {
    const errors = errorsOf({ name: 'c', type: 'FANCY', per_connection_buffer_limit_bytes: -1 }, 'envoy.config.cluster.v3.Cluster')
    assert.ok(errors.some((e) => e.startsWith('type: unknown value "FANCY" for enum envoy.config.cluster.v3.Cluster.DiscoveryType')), errors.join('\n'))
    assert.ok(errors.some((e) => e.startsWith('per_connection_buffer_limit_bytes: expected a non-negative integer')), errors.join('\n'))
  })
})
