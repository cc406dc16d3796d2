import { BufferImpl } from '../buffer/buffer-impl.js'
import type { BufferInstance } from '../../envoy/buffer/buffer.js'
import type { HeaderMap } from '../../envoy/http/header-map.js'
import type { RouteEntry } from '../../envoy/router/router.js'
import type { ClusterManager } from '../../envoy/upstream/cluster-manager.js'

const DENOMINATOR = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const

/** Mirrored requests are dropped once their body passes this size (Envoy buffers shadows too). */
const MAX_SHADOW_BODY = 1024 * 1024

interface Target {
  cluster: string
}

/**
 * `request_mirror_policies` (Envoy's ShadowWriter): once the request is complete, sends a copy
 * to each mirror cluster (with `-shadow` appended to the host) and ignores the answers. A
 * request that never completes is never mirrored.
 */
export class ShadowWriter {
  private readonly cm: ClusterManager
  private readonly targets: Target[]
  private readonly headers: HeaderMap | undefined
  private body: BufferImpl | undefined = new BufferImpl()
  private trailersMap: HeaderMap | undefined
  private sent = false

  constructor(cm: ClusterManager, policies: RouteEntry['requestMirrorPolicies'], headers: HeaderMap) {
    this.cm = cm
    this.targets = []
    for (const p of policies) {
      const f = p.runtimeFraction
      if (f !== undefined) {
        const den = typeof f.denominator === 'number' ? f.denominator : DENOMINATOR[f.denominator as keyof typeof DENOMINATOR] ?? 100
        if (Math.random() * den >= f.numerator) continue
      }
      const cluster = p.cluster !== '' ? p.cluster : headers.get(p.clusterHeader) ?? ''
      if (cluster !== '') this.targets.push({ cluster })
    }
    this.headers = this.targets.length === 0 ? undefined : headers.clone()
    if (this.headers === undefined) this.body = undefined
  }

  data(data: BufferInstance, endStream: boolean): void {
    if (this.body === undefined) return
    if (this.body.length + data.length > MAX_SHADOW_BODY) {
      this.body = undefined
      return
    }
    for (const s of data.slices()) this.body.add(s)
    if (endStream) this.send()
  }

  trailers(t: HeaderMap): void {
    this.trailersMap = t.clone()
    this.send()
  }

  private send(): void {
    if (this.sent || this.headers === undefined || this.body === undefined) return
    this.sent = true
    for (const t of this.targets) {
      const cluster = this.cm.getThreadLocalCluster(t.cluster)
      const host = cluster?.loadBalancer.chooseHost(undefined)
      if (cluster === undefined || host === undefined) continue
      const headers = this.headers.clone()
      const authority = headers.get(':authority')
      if (authority !== undefined) {
        const colon = authority.lastIndexOf(':')
        headers.set(':authority', colon > 0 && !authority.endsWith(']') ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`)
      }
      const body = new BufferImpl()
      for (const s of this.body.slices()) body.add(s)
      const trailers = this.trailersMap
      cluster.httpConnPool(host).newStream(
        { decode1xxHeaders() {}, decodeHeaders() {}, decodeData(d) { d.drain(d.length) }, decodeTrailers() {} },
        {
          onPoolReady: (encoder) => {
            const hasBody = body.length > 0 || trailers !== undefined
            encoder.encodeHeaders(headers, !hasBody)
            if (body.length > 0) encoder.encodeData(body, trailers === undefined)
            if (trailers !== undefined) encoder.encodeTrailers(trailers)
          },
          onPoolFailure: () => {},
        },
      )
    }
  }
}
