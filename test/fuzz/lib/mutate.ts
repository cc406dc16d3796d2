/**
 * Mutation helpers shared by the fuzz targets: byte-level mutations of a wire message, and the
 * "odd" names that client-supplied keys should be tried with (every `Object.prototype` member,
 * control characters, lone surrogates, bidi overrides, very long names).
 */
import type { Prng } from './prng.js'

/**
 * Every own property name of `Object.prototype` (`constructor`, `toString`, `__proto__`, ...),
 * plus those of `Function.prototype` and `Array.prototype` that a lookup in a plain object or an
 * array could reach. Targets try these first: a name looked up in a plain object finds them.
 */
export const PROTOTYPE_NAMES: readonly string[] = [
  ...Object.getOwnPropertyNames(Object.prototype),
  ...['prototype', 'call', 'apply', 'bind', 'length', 'name', 'caller', 'arguments'],
  ...['push', 'map', 'then', 'toJSON', 'entries', 'keys', 'values', 'get', 'has', 'set', 'size'],
].filter((n, i, all) => all.indexOf(n) === i)

/** Bytes that parsers and sanitisers get wrong. */
export const ODD_BYTES: readonly number[] = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b, 0x20, 0x22, 0x25, 0x2c, 0x2f, 0x3a, 0x3b, 0x3d, 0x5c, 0x7f, 0x80, 0xa0, 0xc0, 0xff]

/** Strings with control characters and odd Unicode. */
export const ODD_STRINGS: readonly string[] = [
  '', ' ', '\0', '\n', '\r\n', '\t', '\x7f', 'a\0b', 'a\nb', 'a\r\nb: c', '%00', '%2e%2e%2f', '..', '../x', '/', '//', '\\',
  'é', 'ß', '\u00a0', '\u200b', '\u202e', '\ufeff', '\ud800', '\udfff', '😀', '\u{10ffff}', '𝒳'.repeat(3),
  'null', 'undefined', 'NaN', '-1', '0', '1e309', 'true', '[]', '{}', '"', "'", '<script>', '${x}', '%s%s%n', '*', '?', '#',
]

/** A client-supplied name: a prototype member, an odd string, a mix, or a plain one. */
export function oddName(rng: Prng): string {
  switch (rng.int(6)) {
    case 0: return rng.pick(PROTOTYPE_NAMES)
    case 1: return rng.pick(ODD_STRINGS)
    case 2: return rng.pick(PROTOTYPE_NAMES) + rng.pick(ODD_STRINGS)
    case 3: return rng.string(rng.range(1, 12)) + String.fromCharCode(rng.int(0x20)) + rng.string(2)
    case 4: return rng.string(rng.pick([1, 255, 256, 4096]), 'abcxyz')
    default: return rng.string(rng.range(1, 16), 'abcdefghijklmnopqrstuvwxyzABC0123456789-_.~:@!$&()*+,;=')
  }
}

/** Applies 1..`max` random byte-level mutations (flip, insert odd byte, delete, duplicate, truncate). */
export function mutateBytes(rng: Prng, input: Buffer, max = 3): Buffer {
  let b = Buffer.from(input)
  const n = rng.range(1, max)
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = rng.int(b.length)
    switch (rng.int(6)) {
      case 0: b[at] = b[at]! ^ (1 << rng.int(8)); break
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick(ODD_BYTES)]), b.subarray(at)]); break
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.range(1, 8)))]); break
      case 3: {
        const len = rng.range(1, Math.min(64, b.length - at))
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)])
        break
      }
      case 4: b[at] = rng.pick(ODD_BYTES); break
      default: b = b.subarray(0, at)
    }
  }
  return b
}

/** Splits `b` into 1..`max` pieces at random points (to exercise a parser's resumption). */
export function splitBytes(rng: Prng, b: Buffer, max = 4): Buffer[] {
  const cuts = new Set<number>()
  const n = rng.int(max)
  for (let i = 0; i < n && b.length > 1; i++) cuts.add(rng.range(1, b.length - 1))
  const points = [0, ...[...cuts].sort((x, y) => x - y), b.length]
  const out: Buffer[] = []
  for (let i = 0; i + 1 < points.length; i++) out.push(b.subarray(points[i], points[i + 1]))
  return out.filter((p) => p.length > 0)
}

/** Text that an internal (not user-facing) error leaves in an answer or a message. */
export const INTERNAL_ERROR_TEXT = /TypeError|ReferenceError|RangeError|Cannot read propert|Cannot set propert|Maximum call stack|is not a function|is not iterable|is not a constructor|could not be cloned|\[native code\]|\bat \S+ \(.*\.js:\d+:\d+\)/

/** The first line of `text` matching INTERNAL_ERROR_TEXT, or undefined. */
export function internalErrorLine(text: string): string | undefined {
  for (const line of text.split('\n')) if (INTERNAL_ERROR_TEXT.test(line)) return line.slice(0, 400)
  return undefined
}
