import type { Instance } from '../../envoy/server/instance.js'

export interface AdminRequest {
  method: string
  path: string
  query: URLSearchParams
}

export interface AdminResponse {
  status: number
  /** Defaults to text/plain. */
  contentType?: string
  body?: string | Buffer
  /** Streamed instead of `body` (heap snapshots). */
  stream?: NodeJS.ReadableStream
  headers?: Record<string, string>
  /** Runs once the response has been sent (`/quitquitquit` exits after answering). */
  after?: () => void
}

/** One admin path (Envoy's Admin::UrlHandler). */
export interface AdminEndpoint {
  path: string
  help: string
  /** Changes server state: only POST is accepted. */
  mutatesState: boolean
  /** Query parameters, for `/help` and the home page. */
  params?: ReadonlyArray<{ name: string; help: string }>
  handler(req: AdminRequest, server: Instance): AdminResponse | Promise<AdminResponse>
}

export const TEXT = 'text/plain; charset=UTF-8'
export const JSON_TYPE = 'application/json'
export const HTML = 'text/html; charset=UTF-8'

export function ok(body = 'OK\n'): AdminResponse {
  return { status: 200, body }
}

export function badRequest(body: string): AdminResponse {
  return { status: 400, body: body.endsWith('\n') ? body : `${body}\n` }
}

export function json(value: unknown, status = 200): AdminResponse {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify(value, null, 1)}\n` }
}
