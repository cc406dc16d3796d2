import { type ConnectionInjector, Server, ServerCredentials } from '@grpc/grpc-js'
import type { RuntimeApi_Api } from '../../protobuf/generated/envoy_ts/extensions/filters/network/runtime_api/v1.js'
import type { Connection } from '../../../envoy/network/connection.js'
import type { RuntimeApiContext } from '../handlers/context.js'
import { ApiTokenCheck } from './calls.js'
import { serviceDefinition } from './codec.js'
import { ConnectionDuplex } from './connection-duplex.js'
import { DAPR_SERVICE, daprService } from './dapr-service.js'
import { registerDaprUnimplemented } from './dapr-unimplemented.js'
import { LAYOTTO_SERVICE, layottoService } from './layotto-service.js'

/** Dapr's and grpc-js' default largest message, both ways. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/**
 * One grpc-js Server per runtime_api filter config per worker, serving Layotto's Runtime and/or
 * Dapr's Dapr service (config `apis`; empty: both) on the connections the filter hands it. No
 * socket of its own: each connection is injected as a Duplex (Server#createConnectionInjector).
 */
export class RuntimeGrpcServer {
  private readonly server: Server
  private readonly injector: ConnectionInjector

  constructor(ctx: RuntimeApiContext, apis: readonly RuntimeApi_Api[]) {
    this.server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    })
    const auth = new ApiTokenCheck(ctx.config.api_token)
    const all = apis.length === 0
    if (all || apis.includes('LAYOTTO')) this.server.addService(serviceDefinition(LAYOTTO_SERVICE).definition, layottoService(ctx, auth))
    if (all || apis.includes('DAPR')) {
      this.server.addService(serviceDefinition(DAPR_SERVICE).definition, daprService(ctx, auth))
      registerDaprUnimplemented(this.server, DAPR_SERVICE)
    }
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure())
  }

  /** Serves HTTP/2 on `connection`; the filter feeds the returned Duplex what it reads. */
  accept(connection: Connection): ConnectionDuplex {
    const duplex = new ConnectionDuplex(connection)
    this.injector.injectConnection(duplex)
    return duplex
  }

  /** GOAWAY to every session; sessions still open after `graceMs` are cancelled. */
  drain(graceMs: number): void {
    this.injector.drain(graceMs)
  }

  destroy(): void {
    this.injector.destroy()
  }
}
