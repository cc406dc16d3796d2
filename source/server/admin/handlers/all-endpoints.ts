import type { AdminEndpoint } from '../admin-endpoint.js'
import { clustersEndpoints } from './clusters-handler.js'
import { configDumpEndpoints } from './config-dump-handler.js'
import { helpEndpoints } from './help-handler.js'
import { listenersEndpoints } from './listeners-handler.js'
import { logsEndpoints } from './logs-handler.js'
import { profilingEndpoints } from './profiling-handler.js'
import { runtimeEndpoints } from './runtime-handler.js'
import { serverCmdEndpoints } from './server-cmd-handler.js'
import { serverInfoEndpoints } from './server-info-handler.js'
import { statsEndpoints } from './stats-handler.js'

/** Every admin path. */
export function allAdminEndpoints(): AdminEndpoint[] {
  const list: AdminEndpoint[] = []
  list.push(
    ...helpEndpoints(() => list),
    ...statsEndpoints(),
    ...serverInfoEndpoints(),
    ...serverCmdEndpoints(),
    ...logsEndpoints(),
    ...profilingEndpoints(),
    ...configDumpEndpoints(),
    ...listenersEndpoints(),
    ...clustersEndpoints(),
    ...runtimeEndpoints(),
  )
  return list
}
