import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CidrRange, CidrRangeMatcher, formatIp, ipEquals, isLoopbackIp, parseIp, parsePeerIp, tryParseIp,
} from '../../../source/common/network/cidr.js'

function configError(pattern: RegExp): (err: Error & { code?: string }) => boolean {
  return (err) => {
    assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
    assert.match(err.message, pattern)
    return true
  }
}

describe('parseIp', () => {
  it('parses IPv4 dotted quads', () => {
    assert.deepEqual(parseIp('0.0.0.0'), { family: 4, value: 0 })
    assert.deepEqual(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203 })
    assert.deepEqual(parseIp('255.255.255.255'), { family: 4, value: 0xffffffff })
  })

  it('parses IPv6 in full, compressed and IPv4-tail forms', () => {
    assert.deepEqual(parseIp('::'), { family: 6, value: 0n })
    assert.deepEqual(parseIp('::1'), { family: 6, value: 1n })
    assert.deepEqual(parseIp('2001:db8::'), { family: 6, value: 0x20010db8n << 96n })
    assert.deepEqual(parseIp('2001:DB8:0:0:0:0:0:1'), { family: 6, value: (0x20010db8n << 96n) | 1n })
    assert.deepEqual(parseIp('1:2:3:4:5:6:7::'), { family: 6, value: 0x0001000200030004000500060007_0000n })
    assert.deepEqual(parseIp('::ffff:1.2.3.4'), { family: 6, value: 0xffff01020304n })
    assert.deepEqual(parseIp('0:0:0:0:0:ffff:1.2.3.4'), { family: 6, value: 0xffff01020304n })
  })

  it('rejects what inet_pton rejects', () => {
    for (const bad of ['', 'abc', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.-1', ' 1.2.3.4',
      ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '12345::', 'g::',
      '1.2.3.4::', '::1.2.3', 'fe80::1%eth0', ':1::2']) {
      assert.equal(tryParseIp(bad), undefined, bad)
    }
    assert.throws(() => parseIp('10.0.0.256'), configError(/malformed IP address: '10\.0\.0\.256'/))
  })
})

describe('parsePeerIp', () => {
  it('turns IPv4-mapped IPv6 into IPv4 and drops zone ids', () => {
    assert.deepEqual(parsePeerIp('::ffff:127.0.0.1'), { family: 4, value: 0x7f000001 })
    assert.deepEqual(parsePeerIp('::FFFF:7f00:1'), { family: 4, value: 0x7f000001 })
    assert.deepEqual(parsePeerIp('fe80::1%eth0'), parseIp('fe80::1'))
    assert.deepEqual(parsePeerIp('::1'), { family: 6, value: 1n })
  })

  it('returns undefined for non-IP peers', () => {
    assert.equal(parsePeerIp(''), undefined)
    assert.equal(parsePeerIp(undefined), undefined)
    assert.equal(parsePeerIp('/tmp/sock'), undefined)
  })
})

describe('ip helpers', () => {
  it('formats canonically', () => {
    for (const [text, want] of [['10.0.0.1', '10.0.0.1'], ['::', '::'], ['::1', '::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['fe80::', 'fe80::']]) {
      assert.equal(formatIp(parseIp(text!)), want)
    }
  })

  it('knows loopback (127.0.0.1 and ::1 only, as Envoy) and equality', () => {
    assert.ok(isLoopbackIp(parseIp('127.0.0.1')))
    assert.ok(isLoopbackIp(parseIp('::1')))
    assert.ok(!isLoopbackIp(parseIp('127.0.0.2')))
    assert.ok(!isLoopbackIp(parseIp('::2')))
    assert.ok(ipEquals(parseIp('::1'), parseIp('0::1')))
    assert.ok(!ipEquals(parseIp('0.0.0.1'), parseIp('::1')))
  })
})

describe('CidrRange', () => {
  it('masks the address to the prefix', () => {
    assert.equal(CidrRange.create('10.1.2.3', 8).toString(), '10.0.0.0/8')
    assert.equal(CidrRange.create('2001:db8::1', 32).toString(), '2001:db8::/32')
    assert.equal(CidrRange.create('10.1.2.3', 32).toString(), '10.1.2.3/32')
  })

  it('contains addresses of its own family only', () => {
    const r = CidrRange.fromConfig({ address_prefix: '192.168.0.0', prefix_len: 16 })
    assert.ok(r.contains('192.168.255.1'))
    assert.ok(r.contains('::ffff:192.168.1.1'))
    assert.ok(!r.contains('192.169.0.1'))
    assert.ok(!r.contains('::1'))
    assert.ok(!r.contains('not an ip'))
    const v6 = CidrRange.parse('2001:db8::/32')
    assert.ok(v6.contains(parseIp('2001:db8:ffff::1')))
    assert.ok(!v6.contains(parseIp('2001:db9::1')))
    assert.ok(!v6.contains('10.0.0.1'))
  })

  it('defaults prefix_len to 0: every address of that family', () => {
    const all4 = CidrRange.fromConfig({ address_prefix: '10.0.0.1' })
    assert.equal(all4.toString(), '0.0.0.0/0')
    assert.ok(all4.contains('8.8.8.8'))
    assert.ok(!all4.contains('::1'))
    const all6 = CidrRange.fromConfig({ address_prefix: '::1' })
    assert.ok(all6.contains('2001:db8::1'))
    assert.ok(!all6.contains('1.1.1.1'))
  })

  it('parses text forms', () => {
    assert.equal(CidrRange.parse('10.0.0.1').toString(), '10.0.0.1/32')
    assert.equal(CidrRange.parse('::1').toString(), '::1/128')
    assert.equal(CidrRange.parse('172.16.0.0/12').prefixLen, 12)
    assert.throws(() => CidrRange.parse('10.0.0.0/'), configError(/malformed CIDR range/))
    assert.throws(() => CidrRange.parse('10.0.0.0/x'), configError(/malformed CIDR range/))
  })

  it('rejects bad addresses and lengths', () => {
    assert.throws(() => CidrRange.create('10.0.0.0', 33), configError(/invalid prefix_len 33 for IPv4 .*0\.\.32/))
    assert.throws(() => CidrRange.create('::', 129), configError(/invalid prefix_len 129 for IPv6 .*0\.\.128/))
    assert.throws(() => CidrRange.create('10.0.0.0', -1), configError(/invalid prefix_len -1/))
    assert.throws(() => CidrRange.fromConfig({ address_prefix: 'example.com', prefix_len: 8 }),
      configError(/malformed IP address: 'example\.com'/))
    assert.doesNotThrow(() => CidrRange.create('::', 128))
    assert.doesNotThrow(() => CidrRange.create('1.2.3.4', 32))
  })
})

describe('CidrRangeMatcher', () => {
  const m = new CidrRangeMatcher<string>([
    [CidrRange.parse('10.0.0.0/8'), 'ten'],
    [CidrRange.parse('10.1.0.0/16'), 'ten-one'],
    [CidrRange.parse('10.1.2.3/32'), 'host'],
    [CidrRange.parse('0.0.0.0/0'), 'any4'],
    [CidrRange.parse('2001:db8::/32'), 'doc'],
    [CidrRange.parse('2001:db8:1::/48'), 'doc-1'],
  ])

  it('returns the longest matching prefix', () => {
    assert.equal(m.lookup(parseIp('10.1.2.3')), 'host')
    assert.equal(m.lookup(parseIp('10.1.2.4')), 'ten-one')
    assert.equal(m.lookup(parseIp('10.2.0.1')), 'ten')
    assert.equal(m.lookup(parseIp('11.0.0.1')), 'any4')
    assert.equal(m.lookup(parseIp('2001:db8:1::5')), 'doc-1')
    assert.equal(m.lookup(parseIp('2001:db8:2::5')), 'doc')
  })

  it('misses addresses no range covers, including the other family', () => {
    assert.equal(m.lookup(parseIp('2001:db9::1')), undefined)
    assert.equal(new CidrRangeMatcher<string>([[CidrRange.parse('::/0'), 'v6']]).lookup(parseIp('1.1.1.1')), undefined)
  })

  it('rejects the same range twice', () => {
    assert.throws(() => new CidrRangeMatcher([[CidrRange.parse('10.0.0.0/8'), 1], [CidrRange.parse('10.9.0.0/8'), 2]]),
      configError(/duplicate CIDR range 10\.0\.0\.0\/8/))
  })
})
