import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferImpl } from '../../../../../source/common/buffer/buffer-impl.js'
import { RegistryImpl } from '../../../../../source/common/config/registry-impl.js'
import { ErrorCode } from '../../../../../source/common/errors/codes.js'
import type { ProxyProtocol } from '../../../../../source/common/protobuf/generated/envoy/extensions/filters/listener/proxy_protocol/v3.js'
import { LISTENER_FILTERS, type ListenerFilter, type NamedListenerFilterConfigFactory } from '../../../../../source/envoy/network/listener-filter.js'
import { proxyProtocolFilterFactory, setup } from '../../../../../source/extensions/filters/listener/proxy-protocol/config.js'
import { V2_SIGNATURE, canonicalIpv6 } from '../../../../../source/extensions/filters/listener/proxy-protocol/proxy-protocol-header.js'
import { fakeListenerFilterFactoryContext } from '../../../../mocks/network/factory-context.js'
import { FakeListenerFilterCallbacks } from '../../../../mocks/network/fake-listener-filter-callbacks.js'
import { ipAddress } from '../../../../mocks/network/fake-connection.js'

const TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol'

function cfg(overrides: Partial<ProxyProtocol> = {}): ProxyProtocol {
  return { rules: [], allow_requests_without_proxy_protocol: false, disallowed_versions: [], stat_prefix: '', ...overrides }
}

/** A filter, its callbacks, the connection's bytes, and a counter reader. */
function harness(config: ProxyProtocol = cfg()) {
  const ctx = fakeListenerFilterFactoryContext()
  const filter: ListenerFilter = proxyProtocolFilterFactory.createListenerFilterFactory(config, ctx, 'listener_filters[0].typed_config')()
  const cb = new FakeListenerFilterCallbacks()
  assert.equal(filter.onAccept(cb), 'StopIteration')
  const data = new BufferImpl()
  return {
    filter, cb, data,
    feed(bytes: Buffer | string) {
      data.add(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
      return filter.onData(data)
    },
    counter: (name: string) => ctx.store.counter(name).value(),
  }
}

function v2(opts: { cmd?: number; fam?: number; addr?: Buffer; tlvs?: Buffer; len?: number }): Buffer {
  const body = Buffer.concat([opts.addr ?? Buffer.alloc(0), opts.tlvs ?? Buffer.alloc(0)])
  const fixed = Buffer.alloc(4)
  fixed[0] = 0x20 | (opts.cmd ?? 1)
  fixed[1] = opts.fam ?? 0x11
  fixed.writeUInt16BE(opts.len ?? body.length, 2)
  return Buffer.concat([V2_SIGNATURE, fixed, body])
}

function v4addrs(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12)
  Buffer.from(src).copy(b, 0)
  Buffer.from(dst).copy(b, 4)
  b.writeUInt16BE(sport, 8)
  b.writeUInt16BE(dport, 10)
  return b
}

function tlv(type: number, value: string): Buffer {
  const v = Buffer.from(value)
  const h = Buffer.alloc(3)
  h[0] = type
  h.writeUInt16BE(v.length, 1)
  return Buffer.concat([h, v])
}

describe('proxy_protocol config', () => {
  it('registers by name and by @type', () => {
    const r = new RegistryImpl()
    setup(r)
    const category = r.category<NamedListenerFilterConfigFactory>(LISTENER_FILTERS)
    assert.equal(category.lookup('envoy.filters.listener.proxy_protocol', undefined), proxyProtocolFilterFactory)
    assert.equal(category.lookup('x', TYPE), proxyProtocolFilterFactory)
  })

  it('rejects disallowing every version, naming the path', () => {
    assert.throws(
      () => proxyProtocolFilterFactory.createListenerFilterFactory(cfg({ disallowed_versions: ['V1', 'V2'] }), fakeListenerFilterFactoryContext(), 'lf[0].typed_config'),
      (err: { code?: string; message: string }) => {
        assert.equal(err.code, ErrorCode.CONFIG_INVALID)
        assert.match(err.message, /^lf\[0\]\.typed_config\.disallowed_versions: .*all proxy protocol versions are disallowed/)
        return true
      })
  })
})

describe('proxy_protocol v1', () => {
  it('rewrites addresses, drains exactly the header, even byte by byte', () => {
    const h = harness()
    const bytes = Buffer.from('PROXY TCP4 192.168.0.1 10.1.2.3 56324 443\r\nGET / HTTP/1.1\r\n', 'latin1')
    const headerLen = bytes.indexOf('\r\n') + 2
    for (let i = 0; i < headerLen - 1; i++) assert.equal(h.feed(bytes.subarray(i, i + 1)), 'StopIteration')
    assert.equal(h.feed(bytes.subarray(headerLen - 1)), 'Continue')
    assert.equal(h.data.toString(), 'GET / HTTP/1.1\r\n')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('192.168.0.1', 56324))
    assert.deepEqual(h.cb.localAddress, ipAddress('10.1.2.3', 443))
    assert.equal(h.counter('proxy_proto.versions.v1.found'), 1)
    assert.deepEqual(h.cb.continued, [])
  })

  it('parses TCP6 and canonicalizes the addresses', () => {
    const h = harness()
    assert.equal(h.feed('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:10.0.0.1 1 2\r\n'), 'Continue')
    assert.deepEqual(h.cb.remoteAddress, { kind: 'ip', ip: '2001:db8::1', port: 1, family: 6 })
    assert.deepEqual(h.cb.localAddress, { kind: 'ip', ip: '::ffff:10.0.0.1', port: 2, family: 6 })
  })

  it('keeps the real addresses for UNKNOWN', () => {
    const h = harness()
    assert.equal(h.feed('PROXY UNKNOWN ffff:f...f 1 2\r\nrest'), 'Continue')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('10.0.0.1', 40000))
    assert.equal(h.cb.localRestored, false)
    assert.equal(h.data.toString(), 'rest')
  })

  it('leaves the local address alone when it does not change', () => {
    const h = harness()
    h.feed('PROXY TCP4 1.2.3.4 127.0.0.1 5 10000\r\n')
    assert.equal(h.cb.localRestored, false)
  })

  for (const [what, line] of [
    ['a bad IPv4 address', 'PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n'],
    ['a port out of range', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'],
    ['a family mismatch', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n'],
    ['a missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['a double space', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
    ['an unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['a multicast source', 'PROXY TCP4 224.0.0.1 5.6.7.8 1 2\r\n'],
  ] as const) {
    it(`fails on ${what}`, () => {
      const h = harness()
      assert.equal(h.feed(line), 'StopIteration')
      assert.deepEqual(h.cb.continued, [false])
      assert.equal(h.counter('proxy_proto.versions.v1.error'), 1)
      assert.equal(h.counter('downstream_cx_proxy_proto_error'), 1)
    })
  }

  it('fails when no CRLF comes within 107 bytes', () => {
    const h = harness()
    assert.equal(h.feed(`PROXY ${'x'.repeat(99)}`), 'StopIteration')
    assert.deepEqual(h.cb.continued, [])
    h.feed('xx')
    assert.deepEqual(h.cb.continued, [false])
  })
})

describe('proxy_protocol v2', () => {
  it('parses PROXY over IPv4 byte by byte and drains exactly the header', () => {
    const h = harness(cfg({ stat_prefix: 'edge' }))
    const bytes = Buffer.concat([v2({ addr: v4addrs([203, 0, 113, 7], [10, 0, 0, 2], 51000, 8443) }), Buffer.from('payload')])
    for (let i = 0; i < 27; i++) assert.equal(h.feed(bytes.subarray(i, i + 1)), 'StopIteration')
    assert.equal(h.feed(bytes.subarray(27)), 'Continue')
    assert.equal(h.data.toString(), 'payload')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('203.0.113.7', 51000))
    assert.deepEqual(h.cb.localAddress, ipAddress('10.0.0.2', 8443))
    assert.equal(h.counter('proxy_proto.edge.versions.v2.found'), 1)
  })

  it('parses IPv6 addresses', () => {
    const addr = Buffer.alloc(36)
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(addr, 0)
    Buffer.from('fe800000000000000000000000000002', 'hex').copy(addr, 16)
    addr.writeUInt16BE(1234, 32)
    addr.writeUInt16BE(80, 34)
    const h = harness()
    assert.equal(h.feed(v2({ fam: 0x21, addr })), 'Continue')
    assert.deepEqual(h.cb.remoteAddress, { kind: 'ip', ip: '2001:db8::1', port: 1234, family: 6 })
    assert.deepEqual(h.cb.localAddress, { kind: 'ip', ip: 'fe80::2', port: 80, family: 6 })
  })

  it('keeps the real addresses for LOCAL and skips what follows the fixed part', () => {
    const h = harness()
    assert.equal(h.feed(Buffer.concat([v2({ cmd: 0, fam: 0x00, addr: Buffer.from('ignored!') }), Buffer.from('x')])), 'Continue')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('10.0.0.1', 40000))
    assert.equal(h.data.toString(), 'x')
    assert.equal(h.counter('proxy_proto.versions.v2.found'), 1)
  })

  it('puts rule TLVs and pass-through TLVs in dynamic metadata', () => {
    const h = harness(cfg({
      rules: [
        { tlv_type: 0x02, on_tlv_present: { metadata_namespace: '', key: 'authority' } },
        { tlv_type: 0xea, on_tlv_present: { metadata_namespace: 'aws', key: 'vpce' } },
      ],
      pass_through_tlvs: { match_type: 'INCLUDE', tlv_type: [0x02, 0x30] },
    }))
    const tlvs = Buffer.concat([tlv(0x02, 'example.com'), tlv(0x30, 'ns'), tlv(0xea, 'vpce-123'), tlv(0x04, 'skip')])
    assert.equal(h.feed(v2({ addr: v4addrs([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlvs })), 'Continue')
    assert.deepEqual(h.cb.metadata, {
      'envoy.filters.listener.proxy_protocol': {
        authority: 'example.com',
        pass_through_tlvs: [{ type: 0x02, value: Buffer.from('example.com').toString('base64') }, { type: 0x30, value: Buffer.from('ns').toString('base64') }],
      },
      aws: { vpce: 'vpce-123' },
    })
    assert.equal(h.data.length, 0)
  })

  it('asks for more than the default read size when TLVs make the header long', () => {
    const h = harness()
    const bytes = v2({ addr: v4addrs([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlvs: tlv(0x05, 'y'.repeat(500)) })
    assert.equal(h.feed(bytes.subarray(0, 300)), 'StopIteration')
    assert.equal(h.filter.maxReadBytes(), bytes.length)
    assert.equal(h.feed(bytes.subarray(300)), 'Continue')
    assert.equal(h.data.length, 0)
  })

  for (const [what, header] of [
    ['a truncated TLV', v2({ addr: v4addrs([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlvs: Buffer.from([0x01, 0x00, 0x05, 0x61]) })],
    ['AF_UNIX', v2({ fam: 0x31, addr: Buffer.alloc(216) })],
    ['AF_UNSPEC with PROXY', v2({ fam: 0x01 })],
    ['a length shorter than the addresses', v2({ addr: Buffer.alloc(4) })],
    ['version 3', Buffer.concat([V2_SIGNATURE, Buffer.from([0x31, 0x11, 0, 0])])],
    ['an unknown command', v2({ cmd: 2, addr: v4addrs([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) })],
    ['the any address', v2({ addr: v4addrs([0, 0, 0, 0], [5, 6, 7, 8], 1, 2) })],
  ] as const) {
    it(`fails on ${what}`, () => {
      const h = harness()
      assert.equal(h.feed(header), 'StopIteration')
      assert.deepEqual(h.cb.continued, [false])
      assert.equal(h.counter('proxy_proto.versions.v2.error'), 1)
    })
  }
})

describe('proxy_protocol without a header', () => {
  it('closes on garbage and counts not_found_disallowed', () => {
    const h = harness()
    assert.equal(h.feed('GET / HTTP/1.1\r\n'), 'StopIteration')
    assert.deepEqual(h.cb.continued, [false])
    assert.equal(h.counter('proxy_proto.not_found_disallowed'), 1)
  })

  it('waits while the bytes could still be a header', () => {
    const h = harness()
    assert.equal(h.feed('PRO'), 'StopIteration')
    assert.equal(h.feed(V2_SIGNATURE.subarray(0, 0)), 'StopIteration')
    assert.deepEqual(h.cb.continued, [])
  })

  it('passes the bytes untouched with allow_requests_without_proxy_protocol', () => {
    const h = harness(cfg({ allow_requests_without_proxy_protocol: true, stat_prefix: 'p' }))
    assert.equal(h.feed('GET / HTTP/1.1\r\n'), 'Continue')
    assert.equal(h.data.toString(), 'GET / HTTP/1.1\r\n')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('10.0.0.1', 40000))
    assert.equal(h.counter('proxy_proto.p.not_found_allowed'), 1)
  })

  it('still parses a header when allowed to go without one', () => {
    const h = harness(cfg({ allow_requests_without_proxy_protocol: true }))
    assert.equal(h.feed('PROXY'), 'StopIteration')
    assert.equal(h.feed(' TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'Continue')
    assert.deepEqual(h.cb.remoteAddress, ipAddress('1.2.3.4', 1))
  })
})

describe('proxy_protocol disallowed_versions', () => {
  it('denies a disallowed version and counts found and disallowed', () => {
    const h = harness(cfg({ disallowed_versions: ['V1'] }))
    assert.equal(h.feed('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'StopIteration')
    assert.deepEqual(h.cb.continued, [false])
    assert.equal(h.counter('proxy_proto.versions.v1.found'), 1)
    assert.equal(h.counter('proxy_proto.versions.v1.disallowed'), 1)
    assert.equal(h.counter('downstream_cx_proxy_proto_error'), 0)
  })

  it('treats a disallowed version as no header when requests without one are allowed', () => {
    const h = harness(cfg({ disallowed_versions: ['V2'], allow_requests_without_proxy_protocol: true }))
    const header = v2({ addr: v4addrs([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) })
    assert.equal(h.feed(header), 'Continue')
    assert.equal(h.data.length, header.length)
    assert.equal(h.counter('proxy_proto.not_found_allowed'), 1)
  })
})

describe('canonicalIpv6', () => {
  it('prints what inet_ntop prints', () => {
    assert.equal(canonicalIpv6('0:0:0:0:0:0:0:1'), '::1')
    assert.equal(canonicalIpv6('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1')
    assert.equal(canonicalIpv6('0:0:0:0:0:ffff:c000:0201'), '::ffff:192.0.2.1')
  })
})
