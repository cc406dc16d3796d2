import http from 'node:http'

export interface SimpleResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One HTTP/1.1 request with Node's client; the body is read whole. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    // A request nothing answers fails the test instead of hanging the test file.
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from ${url} within 60 s`)))
    req.end(opts.body)
  })
}
