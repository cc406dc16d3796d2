import http from 'node:http'

/** How long the app may take to accept one configuration update (Dapr sets none; a hung app must not pile up requests). */
const DELIVERY_TIMEOUT_MS = 60_000

/**
 * The application's HTTP callback server, for what the Dapr HTTP API sends it itself:
 * configuration updates of subscriptions made over HTTP (`POST /configuration/<store>/<key>`).
 * Pub/sub deliveries go through the RuntimeHost's SubscriptionManager instead. One keep-alive
 * agent per filter config per worker.
 */
export class HttpAppChannel {
  private readonly host: string
  private readonly port: number
  // Idle keep-alive sockets are unref'd by the agent: they do not hold a stopping worker.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 })

  constructor(host: string, port: number) {
    this.host = host
    this.port = port
  }

  /** POSTs a JSON body; resolves with the app's status, rejects on a connection error or the timeout. */
  postJson(path: string, body: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: this.host,
        port: this.port,
        method: 'POST',
        path,
        agent: this.agent,
        timeout: DELIVERY_TIMEOUT_MS,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      }, (res) => {
        // The answer's body is not used; read it so the connection can be reused.
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`the app did not answer within ${DELIVERY_TIMEOUT_MS} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }
}
