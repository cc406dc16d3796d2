import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hashToUnit, modParts, murmurHash2, xxHash64 } from '../../../../source/common/upstream/load-balancers/hash.js'

describe('xxHash64', () => {
  it('matches the published XXH64 vectors (seed 0)', () => {
    assert.equal(xxHash64(''), 0xef46db3751d8e999n)
    assert.equal(xxHash64('a'), 0xd24ec4f1a98c6e5bn)
    assert.equal(xxHash64('abc'), 0x44bc2cf5ad770999n)
    // 39 bytes: exercises the 32-byte stripe loop and every tail path.
    assert.equal(xxHash64('Nobody inspects the spammish repetition'), 0xfbcea83c8a378bf1n)
  })

  it('matches the values Envoy pins for HashUtil::xxHash64', () => {
    assert.equal(xxHash64('foo'), 3728699739546630719n)
    assert.equal(xxHash64('bar'), 5234164152756840025n)
    assert.equal(xxHash64('foo\nbar'), 8917841378505826757n)
    assert.equal(xxHash64('lyft'), 4400747396090729504n)
  })

  it('hashes strings and bytes alike, and depends on the seed', () => {
    assert.equal(xxHash64(Buffer.from('lyft')), xxHash64('lyft'))
    assert.notEqual(xxHash64('lyft', 1n), xxHash64('lyft'))
    for (let n = 0; n < 80; n++) assert.equal(typeof xxHash64('x'.repeat(n)), 'bigint')
  })
})

describe('murmurHash2', () => {
  it('matches the values Envoy pins for MurmurHash::murmurHash2 (STD_HASH_SEED)', () => {
    assert.equal(murmurHash2(''), 6142509188972423790n)
    assert.equal(murmurHash2('foo'), 9631199822919835226n)
    assert.equal(murmurHash2('bar'), 11474628671133349555n)
    assert.equal(murmurHash2('foo\nbar'), 16306510975912980159n)
    assert.equal(murmurHash2('lyft'), 12847078931730529320n)
  })
})

describe('helpers', () => {
  it('modParts agrees with BigInt modulo', () => {
    for (const s of ['a', 'b', 'c', 'lyft', '10.0.0.1:80']) {
      const h = xxHash64(s)
      const hi = Number(h >> 32n)
      const lo = Number(h & 0xffffffffn)
      for (const m of [100, 65537, 5000011]) assert.equal(modParts(hi, lo, m), Number(h % BigInt(m)))
    }
  })

  it('hashToUnit maps onto [0, 1)', () => {
    assert.equal(hashToUnit(0n), 0)
    const top = hashToUnit(0xffffffffffffffffn)
    assert.ok(top < 1 && top > 0.999999)
  })
})
