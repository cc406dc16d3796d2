import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CidrRange } from '../../source/common/protobuf/generated/envoy/config/core/v3.js'
import type { FilterChain, FilterChainMatch } from '../../source/common/protobuf/generated/envoy/config/listener/v3.js'
import {
  FilterChainManagerImpl, type FilterChainEntry, type FilterChainMatchInfo,
} from '../../source/server/filter-chain-manager-impl.js'

type MatchInput = Partial<Omit<FilterChainMatch, 'prefix_ranges' | 'direct_source_prefix_ranges' | 'source_prefix_ranges'>> & {
  prefix_ranges?: string[]
  direct_source_prefix_ranges?: string[]
  source_prefix_ranges?: string[]
}

function cidr(text: string): CidrRange {
  const [address_prefix, len] = text.split('/')
  return len === undefined ? { address_prefix: address_prefix! } : { address_prefix: address_prefix!, prefix_len: Number(len) }
}

/** A chain in validated form whose payload is its name; `undefined` match = no filter_chain_match. */
function chain(name: string, m?: MatchInput): FilterChainEntry<string> {
  const config: FilterChain = { name, filters: [] }
  if (m !== undefined) {
    config.filter_chain_match = {
      address_suffix: '', source_type: 'ANY', source_ports: [], server_names: [], transport_protocol: '',
      application_protocols: [], ...m,
      prefix_ranges: (m.prefix_ranges ?? []).map(cidr),
      direct_source_prefix_ranges: (m.direct_source_prefix_ranges ?? []).map(cidr),
      source_prefix_ranges: (m.source_prefix_ranges ?? []).map(cidr),
    }
  }
  return { config, payload: name }
}

function manager(chains: FilterChainEntry<string>[], withDefault = false): FilterChainManagerImpl<string> {
  return new FilterChainManagerImpl({
    listenerName: 'test_listener',
    filterChains: chains,
    ...(withDefault ? { defaultFilterChain: { payload: 'default' } } : {}),
  })
}

function conn(c: Partial<FilterChainMatchInfo> & { src?: string; dst?: string } = {}): FilterChainMatchInfo {
  const sourceIp = c.sourceIp ?? c.src ?? '192.0.2.10'
  return {
    destinationIp: c.destinationIp ?? c.dst ?? '198.51.100.1',
    destinationPort: c.destinationPort ?? 10000,
    sourceIp,
    sourcePort: c.sourcePort ?? 40000,
    directSourceIp: c.directSourceIp ?? sourceIp,
  }
}

function configError(pattern: RegExp): (err: Error & { code?: string }) => boolean {
  return (err) => {
    assert.equal(err.code, 'ETS_ERR_CONFIG_INVALID')
    assert.match(err.message, pattern)
    return true
  }
}

describe('FilterChainManagerImpl: trivial listeners', () => {
  it('returns the only chain without criteria for any connection', () => {
    for (const m of [manager([chain('only')]), manager([chain('only', {})])]) {
      assert.equal(m.findFilterChain(conn()), 'only')
      assert.equal(m.findFilterChain(conn({ src: '', dst: '', sourcePort: 0 })), 'only')
      assert.equal(m.findFilterChain(conn({ src: '::1', dst: '::1' })), 'only')
    }
  })

  it('falls back to the default chain, else undefined', () => {
    assert.equal(manager([], true).findFilterChain(conn()), 'default')
    assert.equal(manager([]).findFilterChain(conn()), undefined)
    const m = manager([chain('p80', { destination_port: 80 })])
    assert.equal(m.findFilterChain(conn({ destinationPort: 81 })), undefined)
    assert.equal(manager([chain('p80', { destination_port: 80 })], true).findFilterChain(conn({ destinationPort: 81 })), 'default')
  })
})

describe('FilterChainManagerImpl: each criterion', () => {
  it('destination_port: exact port beats no port', () => {
    const m = manager([chain('any'), chain('p80', { destination_port: 80 }), chain('p443', { destination_port: 443 })])
    assert.equal(m.findFilterChain(conn({ destinationPort: 80 })), 'p80')
    assert.equal(m.findFilterChain(conn({ destinationPort: 443 })), 'p443')
    assert.equal(m.findFilterChain(conn({ destinationPort: 8080 })), 'any')
  })

  it('prefix_ranges: longest prefix wins, chains without ranges catch the rest', () => {
    const m = manager([
      chain('wide', { prefix_ranges: ['10.0.0.0/8'] }),
      chain('narrow', { prefix_ranges: ['10.1.0.0/16', '172.16.0.0/12'] }),
      chain('host', { prefix_ranges: ['10.1.2.3/32'] }),
      chain('rest'),
    ])
    assert.equal(m.findFilterChain(conn({ dst: '10.1.2.3' })), 'host')
    assert.equal(m.findFilterChain(conn({ dst: '10.1.2.4' })), 'narrow')
    assert.equal(m.findFilterChain(conn({ dst: '172.20.0.1' })), 'narrow')
    assert.equal(m.findFilterChain(conn({ dst: '10.200.0.1' })), 'wide')
    assert.equal(m.findFilterChain(conn({ dst: '192.168.0.1' })), 'rest')
    assert.equal(m.findFilterChain(conn({ dst: '::ffff:10.1.2.3' })), 'host')
    assert.equal(m.findFilterChain(conn({ dst: '2001:db8::1' })), 'rest')
  })

  it('prefix_ranges: an unset prefix_len matches the whole family (Envoy default 0)', () => {
    const m = manager([chain('v4', { prefix_ranges: ['10.0.0.1'] })], true)
    assert.equal(m.findFilterChain(conn({ dst: '203.0.113.9' })), 'v4')
    assert.equal(m.findFilterChain(conn({ dst: '2001:db8::1' })), 'default')
  })

  it('prefix_ranges: an explicit /0 beats a chain without ranges for that family only', () => {
    const m = manager([chain('zero', { prefix_ranges: ['0.0.0.0/0'] }), chain('unset')])
    assert.equal(m.findFilterChain(conn({ dst: '10.0.0.1' })), 'zero')
    assert.equal(m.findFilterChain(conn({ dst: '::1' })), 'unset')
  })

  it('prefix_ranges: IPv6', () => {
    const m = manager([
      chain('doc', { prefix_ranges: ['2001:db8::/32'] }),
      chain('doc1', { prefix_ranges: ['2001:db8:1::/48'] }),
      chain('lo', { prefix_ranges: ['::1/128'] }),
    ], true)
    assert.equal(m.findFilterChain(conn({ dst: '2001:db8:1::7' })), 'doc1')
    assert.equal(m.findFilterChain(conn({ dst: '2001:db8:2::7' })), 'doc')
    assert.equal(m.findFilterChain(conn({ dst: '::1' })), 'lo')
    assert.equal(m.findFilterChain(conn({ dst: '127.0.0.1' })), 'default')
  })

  it('direct_source_prefix_ranges: matched against the directly connected peer', () => {
    const m = manager([chain('lb', { direct_source_prefix_ranges: ['10.0.0.0/8'] }), chain('other')])
    assert.equal(m.findFilterChain(conn({ src: '203.0.113.5', directSourceIp: '10.0.0.2' })), 'lb')
    assert.equal(m.findFilterChain(conn({ src: '10.0.0.2', directSourceIp: '203.0.113.5' })), 'other')
  })

  it('source_type SAME_IP_OR_LOOPBACK: loopback peer or peer IP == local IP', () => {
    const m = manager([chain('local', { source_type: 'SAME_IP_OR_LOOPBACK' }), chain('any')])
    assert.equal(m.findFilterChain(conn({ src: '127.0.0.1' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '::1' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '::ffff:127.0.0.1' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '10.0.0.7', dst: '10.0.0.7' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '::ffff:10.0.0.7', dst: '10.0.0.7' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '127.0.0.2', dst: '127.0.0.1' })), 'any') // Envoy: 127.0.0.1 only
    assert.equal(m.findFilterChain(conn({ src: '10.0.0.8', dst: '10.0.0.7' })), 'any')
    // A peer without an IP (pipe, internal listener) counts as local.
    assert.equal(m.findFilterChain(conn({ src: '', dst: '' })), 'local')
  })

  it('source_type EXTERNAL: anything not same-IP or loopback', () => {
    const m = manager([chain('ext', { source_type: 'EXTERNAL' }), chain('any')])
    assert.equal(m.findFilterChain(conn({ src: '8.8.8.8' })), 'ext')
    assert.equal(m.findFilterChain(conn({ src: '127.0.0.1' })), 'any')
    const both = manager([chain('ext', { source_type: 'EXTERNAL' }), chain('local', { source_type: 'SAME_IP_OR_LOOPBACK' })])
    assert.equal(both.findFilterChain(conn({ src: '8.8.8.8' })), 'ext')
    assert.equal(both.findFilterChain(conn({ src: '127.0.0.1' })), 'local')
  })

  it('source_prefix_ranges: longest prefix wins', () => {
    const m = manager([
      chain('net', { source_prefix_ranges: ['192.168.0.0/16'] }),
      chain('sub', { source_prefix_ranges: ['192.168.1.0/24'] }),
      chain('v6', { source_prefix_ranges: ['fd00::/8'] }),
      chain('rest'),
    ])
    assert.equal(m.findFilterChain(conn({ src: '192.168.1.9' })), 'sub')
    assert.equal(m.findFilterChain(conn({ src: '192.168.2.9' })), 'net')
    assert.equal(m.findFilterChain(conn({ src: 'fd12::1' })), 'v6')
    assert.equal(m.findFilterChain(conn({ src: '8.8.8.8' })), 'rest')
  })

  it('source_ports: exact port beats no port', () => {
    const m = manager([chain('p', { source_ports: [1234, 5678] }), chain('rest')])
    assert.equal(m.findFilterChain(conn({ sourcePort: 5678 })), 'p')
    assert.equal(m.findFilterChain(conn({ sourcePort: 1 })), 'rest')
    assert.equal(manager([chain('p', { source_ports: [1234] })]).findFilterChain(conn({ sourcePort: 1 })), undefined)
  })

  it('transport_protocol and the rest of the unimplemented criteria are treated as unset', () => {
    const m = manager([chain('a', { transport_protocol: '', server_names: [], application_protocols: [] })])
    assert.equal(m.findFilterChain(conn()), 'a')
  })
})

describe('FilterChainManagerImpl: precedence', () => {
  it('destination port is decided before destination IP', () => {
    const m = manager([chain('port', { destination_port: 80 }), chain('ip', { prefix_ranges: ['10.0.0.1/32'] })])
    assert.equal(m.findFilterChain(conn({ dst: '10.0.0.1', destinationPort: 80 })), 'port')
    assert.equal(m.findFilterChain(conn({ dst: '10.0.0.1', destinationPort: 81 })), 'ip')
  })

  it('destination IP is decided before source IP and source port', () => {
    const m = manager([
      chain('dst', { prefix_ranges: ['10.0.0.0/8'] }),
      chain('src', { source_prefix_ranges: ['192.168.0.1/32'], source_ports: [4000] }),
    ])
    assert.equal(m.findFilterChain(conn({ dst: '10.0.0.1', src: '192.168.0.1', sourcePort: 4000 })), 'dst')
    assert.equal(m.findFilterChain(conn({ dst: '11.0.0.1', src: '192.168.0.1', sourcePort: 4000 })), 'src')
  })

  it('source type is decided before source IP', () => {
    const m = manager([
      chain('local', { source_type: 'SAME_IP_OR_LOOPBACK' }),
      chain('lo-range', { source_prefix_ranges: ['127.0.0.0/8'] }),
    ])
    assert.equal(m.findFilterChain(conn({ src: '127.0.0.1' })), 'local')
    assert.equal(m.findFilterChain(conn({ src: '127.0.0.5' })), 'lo-range')
  })

  it('source IP is decided before source port', () => {
    const m = manager([chain('ip', { source_prefix_ranges: ['10.0.0.0/8'] }), chain('port', { source_ports: [999] })])
    assert.equal(m.findFilterChain(conn({ src: '10.1.1.1', sourcePort: 999 })), 'ip')
    assert.equal(m.findFilterChain(conn({ src: '11.1.1.1', sourcePort: 999 })), 'port')
  })

  it('does not backtrack: a more specific branch that fails later gives no match', () => {
    const m = manager([
      chain('p80-internal', { destination_port: 80, source_prefix_ranges: ['10.0.0.0/8'] }),
      chain('catch-all'),
    ], true)
    assert.equal(m.findFilterChain(conn({ destinationPort: 80, src: '10.0.0.1' })), 'p80-internal')
    assert.equal(m.findFilterChain(conn({ destinationPort: 80, src: '203.0.113.1' })), 'default')
    assert.equal(m.findFilterChain(conn({ destinationPort: 81, src: '203.0.113.1' })), 'catch-all')

    const ips = manager([chain('narrow', { prefix_ranges: ['10.1.0.0/16'], source_ports: [1] }),
      chain('wide', { prefix_ranges: ['10.0.0.0/8'] })])
    assert.equal(ips.findFilterChain(conn({ dst: '10.1.0.1', sourcePort: 2 })), undefined)

    const local = manager([chain('local', { source_type: 'SAME_IP_OR_LOOPBACK', source_ports: [1] }), chain('any')])
    assert.equal(local.findFilterChain(conn({ src: '127.0.0.1', sourcePort: 2 })), undefined)
  })

  it('all criteria together', () => {
    const m = manager([
      chain('full', {
        destination_port: 443, prefix_ranges: ['10.0.0.0/8', '198.51.100.0/24'], direct_source_prefix_ranges: ['172.16.0.0/12'],
        source_type: 'EXTERNAL', source_prefix_ranges: ['198.51.100.0/24'], source_ports: [5555],
      }),
    ], true)
    const ok = { destinationPort: 443, dst: '10.9.9.9', directSourceIp: '172.16.0.1', src: '198.51.100.7', sourcePort: 5555 }
    assert.equal(m.findFilterChain(conn(ok)), 'full')
    for (const change of [{ destinationPort: 80 }, { dst: '11.0.0.1' }, { directSourceIp: '10.0.0.1' },
      { dst: '198.51.100.7' } /* same IP as the source: not EXTERNAL */, { src: '198.51.101.7' }, { sourcePort: 5556 }]) {
      assert.equal(m.findFilterChain(conn({ ...ok, ...change })), 'default', JSON.stringify(change))
    }
  })
})

describe('FilterChainManagerImpl: config errors', () => {
  it('rejects two chains with the same matching rules', () => {
    assert.throws(() => manager([chain('a', { destination_port: 80 }), chain('b'), chain('c', { destination_port: 80 })]),
      configError(/^error adding listener 'test_listener': multiple filter chains with the same matching rules are defined \(filter_chains\[0\] 'a' and filter_chains\[2\] 'c'\)$/))
    assert.throws(() => manager([chain(''), chain('', {})]),
      configError(/same matching rules are defined \(filter_chains\[0\] and filter_chains\[1\]\)/))
  })

  it('rejects overlapping rules', () => {
    assert.throws(() => manager([chain('a', { prefix_ranges: ['10.0.0.0/8'] }), chain('b', { prefix_ranges: ['192.168.0.0/16', '10.1.0.0/8'] })]),
      configError(/overlapping matching rules are defined \(filter_chains\[0\] 'a' and filter_chains\[1\] 'b'\)/))
    assert.throws(() => manager([chain('a', { source_ports: [1, 1] })]), configError(/overlapping .*within filter_chains\[0\] 'a'/))
  })

  it('rejects bad CIDR ranges with their path', () => {
    assert.throws(() => manager([chain('a', { prefix_ranges: ['10.0.0.0/8', '10.0.0.256/8'] })]),
      configError(/filter_chains\[0\]\.filter_chain_match\.prefix_ranges\[1\]: malformed IP address: '10\.0\.0\.256'/))
    assert.throws(() => manager([chain('a'), chain('b', { source_prefix_ranges: ['10.0.0.0/33'] })]),
      configError(/filter_chains\[1\]\.filter_chain_match\.source_prefix_ranges\[0\]: invalid prefix_len 33/))
    assert.throws(() => manager([chain('a', { direct_source_prefix_ranges: ['::/129'] })]),
      configError(/direct_source_prefix_ranges\[0\]: invalid prefix_len 129/))
  })

  it('rejects address_suffix and suffix_len as unimplemented, as Envoy does', () => {
    assert.throws(() => manager([chain('a', { address_suffix: 'x' })]), configError(/filter_chains\[0\] 'a' contains unimplemented fields/))
    assert.throws(() => manager([chain('a', { suffix_len: 1 })]), configError(/unimplemented fields/))
  })
})
