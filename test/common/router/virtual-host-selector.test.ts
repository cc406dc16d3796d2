import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { build, buildErrors, req, route } from './route-config-helpers.js'

function table(ignorePort = false): ReturnType<typeof build> {
  const vh = (name: string, domains: string[]): unknown => ({
    name, domains, routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }],
  })
  return build({
    name: 'rc',
    ignore_port_in_host_matching: ignorePort,
    virtual_hosts: [
      vh('exact', ['www.foo.com', 'api.foo.com:8080']),
      vh('suffix-short', ['*.foo.com']),
      vh('suffix-long', ['*-bar.foo.com']),
      vh('prefix-short', ['foo.*']),
      vh('prefix-long', ['foo.bar.*']),
      vh('default', ['*']),
    ],
  })
}

const vhostOf = (rc: ReturnType<typeof build>, host: string | undefined): string | undefined =>
  route(rc, host === undefined ? req('/', {}, '') : req('/', {}, host))?.virtualHost.name

describe('virtual host selection', () => {
  it("follows Envoy's order: exact, longest suffix, longest prefix, *", () => {
    const rc = table()
    assert.equal(vhostOf(rc, 'www.foo.com'), 'exact')
    assert.equal(vhostOf(rc, 'x.foo.com'), 'suffix-short')
    assert.equal(vhostOf(rc, 'baz-bar.foo.com'), 'suffix-long')
    assert.equal(vhostOf(rc, 'foo.org'), 'prefix-short')
    assert.equal(vhostOf(rc, 'foo.bar.org'), 'prefix-long')
    assert.equal(vhostOf(rc, 'other.org'), 'default')
  })

  it('prefers a suffix wildcard over a prefix wildcard', () => {
    // foo.foo.com matches both *.foo.com and foo.*
    assert.equal(vhostOf(table(), 'foo.foo.com'), 'suffix-short')
  })

  it('wildcards never match the empty string', () => {
    assert.equal(vhostOf(table(), '-bar.foo.com'), 'suffix-short')
    assert.equal(vhostOf(table(), '.foo.com'), 'default', '*.foo.com needs at least one character')
  })

  it('is case-insensitive', () => {
    assert.equal(vhostOf(table(), 'WWW.Foo.COM'), 'exact')
  })

  it('matches the port as part of the host', () => {
    const rc = table()
    assert.equal(vhostOf(rc, 'api.foo.com:8080'), 'exact')
    assert.equal(vhostOf(rc, 'www.foo.com:80'), 'default', 'neither www.foo.com nor *.foo.com match www.foo.com:80')
    assert.equal(vhostOf(rc, 'api.foo.com'), 'suffix-short')
  })

  it('ignore_port_in_host_matching strips the request port (not the domains)', () => {
    const rc = table(true)
    assert.equal(vhostOf(rc, 'www.foo.com:80'), 'exact')
    assert.equal(vhostOf(rc, 'api.foo.com:8080'), 'suffix-short', 'the domain keeps its port')
    assert.equal(vhostOf(rc, '[::1]:80'), 'default')
  })

  it('a table with only * matches even without an authority', () => {
    const rc = build({ name: 'rc', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] })
    assert.equal(vhostOf(rc, undefined), 'all')
  })

  it('rejects duplicate domains and a second *', () => {
    const errors = buildErrors({
      name: 'rc',
      virtual_hosts: [
        { name: 'a', domains: ['A.com', '*'] },
        { name: 'b', domains: ['a.com', '*'] },
      ],
    })
    assert.deepEqual(errors, [
      'route_config.virtual_hosts[1].domains[0]: Only unique values for domains are permitted. Duplicate entry of domain a.com in route rc',
      'route_config.virtual_hosts[1].domains[1]: Only a single wildcard domain is permitted in route rc',
    ])
  })
})
