import process from 'node:process'
import v8 from 'node:v8'
import { residentSetSize } from '../../../common/stats/memory-stats.js'
import { VERSION, versionString } from '../../../common/version.js'
import type { Instance } from '../../../envoy/server/instance.js'
import { type AdminEndpoint, json } from '../admin-endpoint.js'

function seconds(ms: number): string {
  return `${Math.floor(ms / 1000)}s`
}

/** `command_line_options` in admin.v3.CommandLineOptions's shape. */
function commandLineOptions(server: Instance): Record<string, unknown> {
  const o = server.options
  return {
    base_id: '0',
    use_dynamic_base_id: false,
    concurrency: o.concurrency,
    config_path: o.configPath ?? '',
    config_yaml: o.configYaml ?? '',
    allow_unknown_static_fields: o.allowUnknownStaticFields,
    admin_address_path: o.adminAddressPath ?? '',
    local_address_ip_version: 'v4',
    log_level: o.logLevel,
    component_log_level: Object.entries(o.componentLogLevels).map(([k, v]) => `${k}:${v}`).join(','),
    log_format: o.logFormat,
    log_path: o.logPath ?? '',
    service_cluster: o.serviceCluster ?? '',
    service_node: o.serviceNode ?? '',
    service_zone: o.serviceZone ?? '',
    mode: o.mode === 'serve' ? 'Serve' : o.mode === 'validate' ? 'Validate' : 'InitOnly',
    disable_hot_restart: true,
    file_flush_interval: `${o.fileFlushIntervalMsec / 1000}s`,
    drain_time: `${o.drainTimeS}s`,
    drain_strategy: o.drainStrategy === 'gradual' ? 'Gradual' : 'Immediate',
    parent_shutdown_time: `${o.parentShutdownTimeS}s`,
    restart_epoch: 0,
  }
}

export function serverInfoEndpoints(): AdminEndpoint[] {
  return [
    {
      path: '/server_info',
      help: 'Print server version/status information',
      mutatesState: false,
      handler(_req, server) {
        const uptime = seconds(Date.now() - server.startTimeMs)
        return json({
          version: versionString(),
          state: server.state(),
          hot_restart_version: 'disabled',
          command_line_options: commandLineOptions(server),
          node: server.bootstrap.node ?? {},
          uptime_current_epoch: uptime,
          uptime_all_epochs: uptime,
          // envoy-ts addition: RLIMIT_NOFILE after start-up raised it (-1: unlimited).
          ...(server.fileDescriptorLimit !== undefined ? { file_descriptor_limit: server.fileDescriptorLimit } : {}),
        })
      },
    },
    {
      path: '/ready',
      help: 'Print server state, return 200 if LIVE, otherwise return 503',
      mutatesState: false,
      handler(_req, server) {
        const state = server.state()
        return { status: state === 'LIVE' ? 200 : 503, body: `${state}\n` }
      },
    },
    {
      path: '/memory',
      help: 'Print current allocation/heap usage',
      mutatesState: false,
      handler(_req, server) {
        const snap = server.stats.snapshot()
        const gauge = (n: string): number => snap.gauges.find((g) => g.name === n)?.value ?? 0
        const rss = residentSetSize()
        // process.memoryUsage() reads /proc and throws EMFILE when out of descriptors (issue 18).
        let mem = { external: 0, arrayBuffers: 0 }
        try {
          mem = process.memoryUsage()
        } catch {
          mem = { external: v8.getHeapStatistics().external_memory, arrayBuffers: 0 }
        }
        return json({
          allocated: String(gauge('server.memory_allocated')),
          heap_size: String(gauge('server.memory_heap_size')),
          pageheap_unmapped: '0',
          pageheap_free: '0',
          total_thread_cache: '0',
          total_physical_bytes: String(rss),
          main_thread_heap_limit: String(v8.getHeapStatistics().heap_size_limit),
          external: String(mem.external),
          array_buffers: String(mem.arrayBuffers),
          version: VERSION,
        })
      },
    },
  ]
}
