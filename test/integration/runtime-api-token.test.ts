/**
 * Issue 18, defect 11 (runtime parts): the `dapr-api-token` check of Dapr's HTTP API and of the
 * gRPC runtime API (Dapr and Layotto) in the real binary. A repeated token is refused even when
 * its first value is right; without `api_token` in the config the `DAPR_API_TOKEN` environment
 * variable is the token (as Dapr's sidecar does), said once at start-up without the token.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { type EnvoyProcess, startEnvoy } from './helpers/envoy-process.js'
import { request } from './helpers/http-client.js'
import { grpcFails, loadApiProtos, type RuntimeClient, runtimeClient, runtimeApiBootstrap } from './helpers/runtime-grpc.js'
import { listenerPort } from './helpers/tcp.js'

const ENV_TOKEN = 'env-token-7f3a9c'

function bootstrap(token: string | undefined): string {
  return runtimeApiBootstrap([...(token === undefined ? [] : [`api_token: ${token}`]), 'state: { statestore: { type: in-memory } }'])
}

function md(...tokens: string[]): grpc.Metadata {
  const m = new grpc.Metadata()
  for (const t of tokens) m.add('dapr-api-token', t)
  return m
}

interface Target {
  envoy: EnvoyProcess
  http: string
  dapr: RuntimeClient
  layotto: RuntimeClient
}

async function start(token: string | undefined, env: Record<string, string>): Promise<Target> {
  // The test runner's own environment must not decide the outcome.
  const envoy = await startEnvoy({ config: bootstrap(token), env: { DAPR_API_TOKEN: '', ...env } })
  const grpcPort = await listenerPort(envoy, 'grpc')
  return {
    envoy,
    http: `http://127.0.0.1:${await listenerPort(envoy, 'dapr_http')}`,
    dapr: runtimeClient(loadApiProtos(['dapr/proto/runtime/v1/dapr.proto']), 'dapr.proto.runtime.v1.Dapr', grpcPort),
    layotto: runtimeClient(loadApiProtos(['spec/proto/runtime/v1/runtime.proto']), 'spec.proto.runtime.v1.Runtime', grpcPort),
  }
}

async function stop(t: Target | undefined): Promise<void> {
  t?.dapr.close()
  t?.layotto.close()
  await t?.envoy.stop()
}

/** Dapr HTTP GET of a state key with the given `dapr-api-token` header values (repeated lines). */
async function httpStatus(t: Target, tokens: string[]): Promise<number> {
  const headers = tokens.length === 0 ? {} : { 'dapr-api-token': tokens.length === 1 ? tokens[0]! : tokens }
  return (await request(`${t.http}/v1.0/state/statestore/k`, { headers: headers as Record<string, string> })).status
}

const getState = { store_name: 'statestore', key: 'k' }

describe('dapr-api-token', () => {
  describe('api_token in the config', () => {
    let t: Target
    before(async () => { t = await start('s3cret', { DAPR_API_TOKEN: ENV_TOKEN }) })
    after(() => stop(t))

    it('HTTP: one right token passes; a repeated header is 401 even when its first value is right', async () => {
      assert.equal(await httpStatus(t, ['s3cret']), 204)
      assert.equal(await httpStatus(t, ['s3cret', 'wrong']), 401)
      assert.equal(await httpStatus(t, ['s3cret', 's3cret']), 401)
      assert.equal(await httpStatus(t, []), 401)
      assert.equal(await httpStatus(t, [ENV_TOKEN]), 401, 'the config wins over DAPR_API_TOKEN')
    })

    it('gRPC (Dapr and Layotto): repeated dapr-api-token metadata is UNAUTHENTICATED', async () => {
      for (const c of [t.dapr, t.layotto]) {
        await c.unary('GetState', getState, md('s3cret'))
        await grpcFails(c.unary('GetState', getState, md('s3cret', 'wrong')), grpc.status.UNAUTHENTICATED, /authentication error/)
        await grpcFails(c.unary('GetState', getState, md('s3cret', 's3cret')), grpc.status.UNAUTHENTICATED, /authentication error/)
        await grpcFails(c.unary('GetState', getState, md(ENV_TOKEN)), grpc.status.UNAUTHENTICATED, /mismatch/)
      }
      assert.equal(t.envoy.logs.filter((l) => String(l.msg).includes('DAPR_API_TOKEN')).length, 0, 'no env notice when the config sets the token')
    })
  })

  describe('DAPR_API_TOKEN without api_token', () => {
    let t: Target
    before(async () => { t = await start(undefined, { DAPR_API_TOKEN: ENV_TOKEN }) })
    after(() => stop(t))

    it('is required on HTTP and gRPC', async () => {
      assert.equal(await httpStatus(t, []), 401)
      assert.equal(await httpStatus(t, ['wrong']), 401)
      assert.equal(await httpStatus(t, [ENV_TOKEN]), 204)
      for (const c of [t.dapr, t.layotto]) {
        await grpcFails(c.unary('GetState', getState), grpc.status.UNAUTHENTICATED, /missing/)
        await c.unary('GetState', getState, md(ENV_TOKEN))
      }
    })

    it('is said once at start-up, at info level, without the token', () => {
      const notices = t.envoy.logs.filter((l) => String(l.msg).includes('DAPR_API_TOKEN'))
      assert.equal(notices.length, 1, JSON.stringify(notices))
      assert.equal(notices[0]!.level, 'info')
      assert.ok(!t.envoy.stderr.includes(ENV_TOKEN) && !t.envoy.stdout.includes(ENV_TOKEN), 'the token is never logged')
    })
  })
})
