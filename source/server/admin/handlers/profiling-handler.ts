import { type AdminEndpoint, badRequest } from '../admin-endpoint.js'

export function profilingEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/cpuprofiler',
      help: 'enable/disable the CPU profiler (V8 profiles of main and every worker, written under admin.profile_path)',
      mutatesState: true,
      params: [{ name: 'enable', help: "'y' to start, 'n' to stop and write the profiles" }],
      async handler(req, server) {
        const enable = req.query.get('enable')
        if (enable === 'y') {
          if (server.cpuProfilerRunning()) return badRequest('profiler already running')
          await server.startCpuProfiler()
          return { status: 200, body: 'Starting CPU profiler\nOK\n' }
        }
        if (enable === 'n') {
          if (!server.cpuProfilerRunning()) return badRequest('profiler is not running')
          const files = await server.stopCpuProfiler()
          return { status: 200, body: `${files.map((f) => `wrote ${f}`).join('\n')}\nOK\n` }
        }
        return badRequest("?enable=y or ?enable=n is required")
      },
    },
    {
      path: '/heap_dump',
      help: 'dump a V8 heap snapshot (of main, or of worker N with ?worker=N)',
      mutatesState: false,
      params: [{ name: 'worker', help: 'worker index; main when absent' }],
      async handler(req, server) {
        const w = req.query.get('worker')
        if (w !== null && !/^\d+$/.test(w)) return badRequest('worker must be a worker index')
        const index = w === null ? undefined : Number(w)
        if (index !== undefined && index >= server.options.concurrency) return badRequest(`no worker ${index}`)
        const stream = await server.heapSnapshot(index)
        return {
          status: 200,
          contentType: 'application/octet-stream',
          headers: { 'content-disposition': `attachment; filename="${index === undefined ? 'main' : `worker_${index}`}.heapsnapshot"` },
          stream,
        }
      },
    },
  ]
}
