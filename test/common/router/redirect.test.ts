import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { build, buildErrors, oneHost, req, route } from './route-config-helpers.js'

function location(redirect: Record<string, unknown>, path: string, extra: Record<string, string> = {}, authority = 'example.com', match: Record<string, unknown> = { prefix: '/' }): string | undefined {
  const rc = build(oneHost([{ match, redirect }]))
  const headers = { 'x-forwarded-proto': 'http', ...extra }
  const r = route(rc, req(path, headers, authority))
  return r?.directResponseEntry?.newUri(req(path, headers, authority))
}

describe('redirect', () => {
  it('response codes', () => {
    const code = (response_code?: string): number | undefined =>
      route(build(oneHost([{ match: { prefix: '/' }, redirect: response_code === undefined ? { host_redirect: 'x' } : { host_redirect: 'x', response_code } }])), req('/'))?.directResponseEntry?.responseCode
    assert.equal(code(), 301)
    assert.equal(code('FOUND'), 302)
    assert.equal(code('SEE_OTHER'), 303)
    assert.equal(code('TEMPORARY_REDIRECT'), 307)
    assert.equal(code('PERMANENT_REDIRECT'), 308)
  })

  it('keeps what it does not replace, including the query', () => {
    assert.equal(location({ host_redirect: 'new.com' }, '/a/b?c=d'), 'http://new.com/a/b?c=d')
    assert.equal(location({ path_redirect: '/new' }, '/a/b?c=d'), 'http://example.com/new?c=d')
  })

  it('https_redirect and scheme_redirect drop the old default port', () => {
    assert.equal(location({ https_redirect: true }, '/p', {}, 'example.com:80'), 'https://example.com/p')
    assert.equal(location({ https_redirect: true }, '/p', {}, 'example.com:8080'), 'https://example.com:8080/p')
    assert.equal(location({ scheme_redirect: 'https' }, '/p', {}, 'example.com'), 'https://example.com/p')
    assert.equal(location({ scheme_redirect: 'http' }, '/p', { 'x-forwarded-proto': 'https', ':scheme': 'https' }, 'example.com:443'), 'http://example.com/p')
    assert.equal(location({ path_redirect: '/x' }, '/p', {}, 'example.com:80'), 'http://example.com:80/x', 'same scheme: port kept')
  })

  it('port_redirect replaces the port', () => {
    assert.equal(location({ port_redirect: 8443, https_redirect: true }, '/p', {}, 'example.com:8080'), 'https://example.com:8443/p')
    assert.equal(location({ port_redirect: 8443 }, '/p', {}, '[::1]:8080'), 'http://[::1]:8443/p')
    assert.equal(location({ host_redirect: 'h.com', port_redirect: 81 }, '/p'), 'http://h.com:81/p')
  })

  it('path_redirect with a query replaces the query; strip_query drops it', () => {
    assert.equal(location({ path_redirect: '/n?x=1' }, '/p?y=2'), 'http://example.com/n?x=1')
    assert.equal(location({ path_redirect: '/n?x=1', strip_query: true }, '/p?y=2'), 'http://example.com/n?x=1', 'a path_redirect query is never stripped')
    assert.equal(location({ path_redirect: '/n', strip_query: true }, '/p?y=2'), 'http://example.com/n')
    assert.equal(location({ strip_query: true, host_redirect: 'h' }, '/p?y=2'), 'http://h/p')
    assert.equal(location({ path_redirect: 'rel' }, '/p'), 'http://example.com/rel', 'a leading / is added')
  })

  it('prefix_rewrite replaces the matched prefix; regex_rewrite the path; the query stays', () => {
    assert.equal(location({ prefix_rewrite: '/v2/' }, '/v1/users?id=1', {}, 'example.com', { prefix: '/v1/' }), 'http://example.com/v2/users?id=1')
    assert.equal(location({ prefix_rewrite: '/' }, '/strip/me', {}, 'example.com', { prefix: '/strip/' }), 'http://example.com/me')
    assert.equal(location({ regex_rewrite: { pattern: { regex: '^/a/(\\w+)$' }, substitution: '/b/\\1' } }, '/a/xyz?q', {}, 'example.com', { safe_regex: { regex: '/a/.*' } }),
      'http://example.com/b/xyz?q')
  })

  it('uses :scheme when there is no scheme change', () => {
    assert.equal(location({ host_redirect: 'h' }, '/p', { ':scheme': 'https', 'x-forwarded-proto': 'https' }), 'https://h/p')
  })
})

describe('direct_response', () => {
  it('inline string and bytes, empty body without one', () => {
    const rc = build(oneHost([
      { match: { prefix: '/s' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
      { match: { prefix: '/b' }, direct_response: { status: 200, body: { inline_bytes: Buffer.from('bytes!').toString('base64') } } },
      { match: { prefix: '/e' }, direct_response: { status: 204 } },
    ]))
    const d = (p: string) => route(rc, req(p))!.directResponseEntry!
    assert.equal(d('/s').responseCode, 418)
    assert.equal(d('/s').body, 'teapot')
    assert.equal(d('/b').body, 'bytes!')
    assert.equal(d('/e').body, '')
    assert.equal(d('/e').newUri(req('/e')), undefined)
    assert.equal(route(rc, req('/s'))!.routeEntry, undefined)
  })

  it('reads a file at config time and enforces max_direct_response_body_size_bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-'))
    const file = path.join(dir, 'body.txt')
    fs.writeFileSync(file, 'from a file\n')
    const rc = build(oneHost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: file } } }]))
    fs.writeFileSync(file, 'changed later')
    assert.equal(route(rc, req('/'))!.directResponseEntry!.body, 'from a file\n')

    const big = 'x'.repeat(4097)
    assert.deepEqual(buildErrors(oneHost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: big } } }])), [
      'route_config.virtual_hosts[0].routes[0].direct_response.body: response body size is 4097 bytes; maximum is 4096',
    ])
    assert.doesNotThrow(() => build(oneHost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: big } } }], {}, { max_direct_response_body_size_bytes: 5000 })))
    fs.writeFileSync(file, 'y'.repeat(20))
    assert.deepEqual(buildErrors(oneHost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: file } } }], {}, { max_direct_response_body_size_bytes: 10 })), [
      `route_config.virtual_hosts[0].routes[0].direct_response.body.filename: response body file ${file} size is 20 bytes; maximum is 10`,
    ])
    assert.match(buildErrors(oneHost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: path.join(dir, 'nope') } } }]))[0]!, /does not exist/)
    fs.rmSync(dir, { recursive: true })
  })
})
