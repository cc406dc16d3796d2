import type { RuntimeApiContext } from './context.js'
import { componentError, missingComponent } from './errors.js'

/** Dapr's / Layotto's InvokeBinding: calls an output binding's operation. */
export async function invokeBinding(ctx: RuntimeApiContext, name: string, operation: string, data: Uint8Array, metadata: Record<string, string>): Promise<{ data: Uint8Array; metadata: Record<string, string> }> {
  const b = ctx.components.get('bindings', name)
  if (b === undefined) throw missingComponent(ctx, 'bindings', name)
  try {
    return await b.invoke(operation, data, metadata)
  } catch (err) {
    throw componentError(err, 'ERR_INVOKE_OUTPUT_BINDING', `error invoking output binding ${name}`)
  }
}
