/** A ListenerFilterCallbacks that records address rewrites, metadata and how the chain ended. */
import type { Address } from '../../../source/envoy/network/address.js'
import type { ListenerFilterCallbacks } from '../../../source/envoy/network/listener-filter.js'
import { ipAddress } from './fake-connection.js'

export class FakeListenerFilterCallbacks implements ListenerFilterCallbacks {
  localAddress: Address
  remoteAddress: Address
  readonly directRemoteAddress: Address
  /** Namespace → fields, merged like Envoy's filter_metadata. */
  readonly metadata: Record<string, Record<string, unknown>> = {}
  /** Each continueFilterChain(success) call. */
  readonly continued: boolean[] = []
  localRestored = false

  constructor(remote: Address = ipAddress('10.0.0.1', 40000), local: Address = ipAddress('127.0.0.1', 10000)) {
    this.remoteAddress = remote
    this.directRemoteAddress = remote
    this.localAddress = local
  }

  restoreLocalAddress(a: Address): void {
    this.localAddress = a
    this.localRestored = true
  }

  setRemoteAddress(a: Address): void {
    this.remoteAddress = a
  }

  setDynamicMetadata(namespace: string, value: Record<string, unknown>): void {
    this.metadata[namespace] = { ...this.metadata[namespace], ...value }
  }

  continueFilterChain(success: boolean): void {
    this.continued.push(success)
  }
}
