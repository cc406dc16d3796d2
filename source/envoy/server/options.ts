import type { LogFormat } from '../../common/logger/logger.js'

/** What `--mode` asks for. `init_only` initializes everything, then exits 0. */
export type Mode = 'serve' | 'validate' | 'init_only'
export type DrainStrategy = 'gradual' | 'immediate'

/**
 * The parsed command line (Envoy's `Server::Options`). Immutable once parsed; main thread only,
 * workers receive what they need in their start-up data.
 */
export interface Options {
  readonly configPath: string | undefined
  readonly configYaml: string | undefined
  readonly mode: Mode
  /** Worker threads; `--concurrency 0` means 1. */
  readonly concurrency: number
  readonly logLevel: string
  readonly componentLogLevels: Readonly<Record<string, string>>
  readonly logPath: string | undefined
  readonly logFormat: LogFormat
  readonly drainTimeS: number
  readonly drainStrategy: DrainStrategy
  readonly parentShutdownTimeS: number
  readonly serviceNode: string | undefined
  readonly serviceCluster: string | undefined
  readonly serviceZone: string | undefined
  readonly adminAddressPath: string | undefined
  readonly fileFlushIntervalMsec: number
  readonly allowUnknownStaticFields: boolean
  /** Every option as given, for `/server_info`'s `command_line_options`. */
  readonly raw: Readonly<Record<string, unknown>>
}
