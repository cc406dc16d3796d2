import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { DirectResponseEntry, Route, VirtualHost } from '../../envoy/router/router.js'
import type { RedirectAction } from '../protobuf/generated/envoy/config/route/v3.js'
import type { ConfigErrors } from './config-utility.js'
import { pathEnd, RegexRewrite } from './matchers.js'

/**
 * The `Location` of a `redirect` route (Envoy's RouteEntryImplBase::newPath): scheme, host,
 * port and path each either replaced by the action or kept from the request.
 */

/** The request's scheme as the client sees it: `x-forwarded-proto`, else `:scheme`. */
function forwardedProto(headers: HeaderMap): string {
  return headers.get('x-forwarded-proto') ?? headers.get(':scheme') ?? ''
}

/**
 * The request's host for the Location: the port is dropped when the redirect sets one, or when
 * the scheme changes and the port was the old scheme's default (`:80` for http, `:443` for https).
 */
function processRequestHost(headers: HeaderMap, newScheme: string, newPort: string): string {
  const host = headers.get(':authority') ?? headers.get('host') ?? ''
  if (host === '') return host
  let end: number
  if (host.startsWith('[')) {
    end = host.lastIndexOf(']:')
    if (end !== -1) end += 1
  } else {
    end = host.lastIndexOf(':')
  }
  if (end === -1) return host
  const port = host.slice(end)
  const proto = forwardedProto(headers)
  let remove = newPort !== ''
  if (newScheme !== proto) {
    remove ||= (proto === 'https' && port === ':443') || (proto === 'http' && port === ':80')
  }
  return remove ? host.slice(0, end) : host
}

export class RedirectConfig {
  private readonly scheme: string
  private readonly host: string
  private readonly port: string
  private readonly pathRedirect: string | undefined
  private readonly pathRedirectHasQuery: boolean
  private readonly prefixRewrite: string
  private readonly regexRewrite: RegexRewrite | undefined
  private readonly stripQuery: boolean

  constructor(c: RedirectAction, path: string, errors: ConfigErrors) {
    this.scheme = c.scheme_redirect ?? (c.https_redirect === true ? 'https' : '')
    this.host = c.host_redirect
    this.port = c.port_redirect !== 0 ? `:${c.port_redirect}` : ''
    this.pathRedirect = c.path_redirect === '' ? undefined : c.path_redirect
    this.pathRedirectHasQuery = this.pathRedirect?.includes('?') === true
    this.prefixRewrite = c.prefix_rewrite ?? ''
    this.regexRewrite = c.regex_rewrite === undefined ? undefined : RegexRewrite.compile(c.regex_rewrite, `${path}.regex_rewrite`, errors)
    this.stripQuery = c.strip_query
  }

  /**
   * Builds the Location. `matchedLength` is how much of the path the route's match covers, for
   * `prefix_rewrite` (the prefix, the exact path, or the whole path before the query).
   */
  newUri(headers: HeaderMap, matchedLength: (path: string) => number): string {
    const scheme = this.scheme !== '' ? this.scheme : (headers.get(':scheme') ?? headers.get('x-forwarded-proto') ?? 'http')
    const host = this.host !== '' ? this.host : processRequestHost(headers, scheme, this.port)
    const current = headers.get(':path') ?? '/'
    let path: string
    if (this.pathRedirect !== undefined) {
      // A query in path_redirect replaces the request's; otherwise the request's is kept.
      const q = current.indexOf('?')
      path = this.pathRedirectHasQuery || q === -1 ? this.pathRedirect : this.pathRedirect + current.slice(q)
    } else if (this.regexRewrite !== undefined) {
      const end = pathEnd(current)
      path = this.regexRewrite.replaceAll(current.slice(0, end)) + current.slice(end)
    } else if (this.prefixRewrite !== '') {
      path = this.prefixRewrite + current.slice(matchedLength(current))
    } else {
      path = current
    }
    if (!path.startsWith('/')) path = `/${path}`
    if (this.stripQuery && !this.pathRedirectHasQuery) {
      const q = path.indexOf('?')
      if (q !== -1) path = path.slice(0, q)
    }
    return `${scheme}://${host}${this.port}${path}`
  }
}

/**
 * The redirect to https a virtual host with `require_tls` answers plaintext requests with
 * (Envoy's SslRedirectRoute): 301 to `https://<host><path>`.
 */
export class SslRedirectRoute implements Route, DirectResponseEntry {
  readonly name = ''
  readonly virtualHost: VirtualHost
  readonly routeEntry = undefined
  readonly directResponseEntry: DirectResponseEntry = this
  readonly responseCode = 301
  readonly body = ''

  constructor(vhost: VirtualHost) {
    this.virtualHost = vhost
  }

  newUri(headers: HeaderMap): string {
    return `https://${headers.get(':authority') ?? headers.get('host') ?? ''}${headers.get(':path') ?? '/'}`
  }

  finalizeResponseHeaders(): void {}

  perFilterConfig(): unknown {
    return undefined
  }
}
