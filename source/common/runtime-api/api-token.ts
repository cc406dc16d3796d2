/** Dapr's environment variable for the API token its sidecar requires (`dapr-api-token`). */
export const DAPR_API_TOKEN_ENV = 'DAPR_API_TOKEN'

/**
 * The API token a runtime config requires: its `api_token`, or, when that is empty, the
 * `DAPR_API_TOKEN` environment variable (Dapr's sidecar reads the same variable). '' means no
 * token is required.
 */
export function effectiveApiToken(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  if (configured !== '') return configured
  const fromEnv = Object.hasOwn(env, DAPR_API_TOKEN_ENV) ? env[DAPR_API_TOKEN_ENV] : undefined
  return fromEnv ?? ''
}

/** Whether a config without `api_token` takes its token from the environment. */
export function apiTokenFromEnv(configured: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return configured === '' && effectiveApiToken(configured, env) !== ''
}
