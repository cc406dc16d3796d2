// The part of http-proxy (1.18, no bundled types) the node-http-proxy target uses.
declare module 'http-proxy' {
  import type http from 'node:http'

  interface ServerOptions {
    target?: string
    agent?: http.Agent
    xfwd?: boolean
  }

  interface ProxyServer {
    web(req: http.IncomingMessage, res: http.ServerResponse, options?: ServerOptions, callback?: (err: Error) => void): void
    on(event: 'error', listener: (err: Error, req: http.IncomingMessage, res: http.ServerResponse) => void): this
  }

  const httpProxy: { createProxyServer(options: ServerOptions): ProxyServer }
  export default httpProxy
}
