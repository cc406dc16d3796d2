/**
 * Bounds on a parsed config document, checked before anything walks it. YAML aliases share one
 * node between many places, so a few hundred bytes can stand for billions of values ("billion
 * laughs"), and an alias inside its own anchor makes a cycle; every later pass (validation,
 * merging, building) walks the document as a tree. Envoy converts YAML to JSON and then to
 * protobuf, where the same inputs fail on the protobuf recursion limit (100) and message size.
 */

/** Deepest nesting of mappings and lists, counting through aliases (protobuf's recursion limit). */
export const MAX_CONFIG_DEPTH = 100
/** Most values (scalars, mappings, lists) the document may stand for, counting every alias use. */
export const MAX_CONFIG_NODES = 1_000_000

interface Size {
  nodes: number
  depth: number
}

/**
 * Returns a problem with `doc` (a cycle, too many values once aliases are expanded, or nesting
 * too deep), or undefined. Linear in the distinct nodes: a node reached again through an alias
 * is counted from memory, not walked again.
 */
export function checkDocumentLimits(doc: unknown, maxNodes = MAX_CONFIG_NODES, maxDepth = MAX_CONFIG_DEPTH): string | undefined {
  const sizes = new Map<object, Size>()
  const open = new Set<object>()
  class Limit extends Error {}
  // Depth is bounded by maxDepth, so this recursion is too.
  const measure = (v: unknown, depth: number): Size => {
    if (v === null || typeof v !== 'object') return { nodes: 1, depth: 0 }
    const known = sizes.get(v)
    if (known !== undefined) {
      if (depth + known.depth > maxDepth) throw new Limit(`nesting deeper than ${maxDepth} levels (through YAML aliases)`)
      return known
    }
    if (open.has(v)) throw new Limit('a YAML alias refers to a node that contains it (a cycle)')
    if (depth >= maxDepth) throw new Limit(`nesting deeper than ${maxDepth} levels`)
    open.add(v)
    const size: Size = { nodes: 1, depth: 1 }
    const children = Array.isArray(v) ? v : Object.values(v)
    for (const c of children) {
      const s = measure(c, depth + 1)
      size.nodes += s.nodes
      if (s.depth + 1 > size.depth) size.depth = s.depth + 1
      if (size.nodes > maxNodes) {
        throw new Limit(`the document stands for more than ${maxNodes} values once YAML aliases are expanded (an alias bomb?)`)
      }
    }
    open.delete(v)
    sizes.set(v, size)
    return size
  }
  try {
    const total = measure(doc, 0)
    if (total.nodes > maxNodes) return `the document has more than ${maxNodes} values`
    return undefined
  } catch (err) {
    if (err instanceof Limit) return err.message
    throw err
  }
}
