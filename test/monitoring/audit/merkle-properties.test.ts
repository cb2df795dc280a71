import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  MerkleFrontier,
  consistencyProof,
  emptyRoot,
  hashLeaf,
  inclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/monitoring/audit/merkle.js';

/** Small seeded generator (mulberry32), so a failing case can be reproduced from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeLeaves(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, index) => hashLeaf(Buffer.from(`leaf ${index}`)));
}

/** Tree hash written straight from the recursive definition MTH in RFC 6962, as a reference. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return createHash('sha256')
    .update(Uint8Array.of(1))
    .update(referenceRoot(leaves.slice(0, split)))
    .update(referenceRoot(leaves.slice(split)))
    .digest();
}

function flipBit(hash: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(hash);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

const random = seededRandom(6962);
const SIZES = [
  ...Array.from({ length: 40 }, (_, index) => index + 1),
  ...Array.from({ length: 6 }, () => 41 + Math.floor(random() * 260)),
  127,
  128,
  129,
  256,
  300,
];
const MAX_SIZE = Math.max(...SIZES);
const ALL_LEAVES = makeLeaves(2 * MAX_SIZE + 1);

/** Roots of every prefix of ALL_LEAVES, indexed by tree size. */
const ROOTS: Uint8Array[] = (() => {
  const frontier = new MerkleFrontier();
  const roots = [frontier.root()];
  for (const leaf of ALL_LEAVES) {
    frontier.append(leaf);
    roots.push(frontier.root());
  }
  return roots;
})();

function rootOf(size: number): Uint8Array {
  return ROOTS[size] as Uint8Array;
}

describe('Merkle root', () => {
  it('empty tree root is SHA-256 of nothing', () => {
    expect(Buffer.from(emptyRoot()).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('frontier matches the recursive definition', () => {
    const frontier = new MerkleFrontier();
    for (let size = 1; size <= MAX_SIZE; size += 1) {
      frontier.append(ALL_LEAVES[size - 1] as Uint8Array);
      const expected = referenceRoot(ALL_LEAVES.slice(0, size));
      expect(Buffer.from(frontier.root()).equals(expected), `size ${size}`).toBe(true);
    }
  });

  it('rootFromLeafHashes matches the recursive definition', () => {
    for (const size of SIZES) {
      const leaves = ALL_LEAVES.slice(0, size);
      expect(Buffer.from(rootFromLeafHashes(leaves)).equals(referenceRoot(leaves))).toBe(true);
    }
  });

  it('frontier restored from its state continues the same tree', () => {
    const frontier = new MerkleFrontier();
    ALL_LEAVES.slice(0, 77).forEach((leaf) => frontier.append(leaf));
    const restored = MerkleFrontier.fromState(frontier.size, frontier.nodes);
    ALL_LEAVES.slice(77, 100).forEach((leaf) => restored.append(leaf));
    expect(Buffer.from(restored.root()).equals(referenceRoot(ALL_LEAVES.slice(0, 100)))).toBe(true);
  });

  it('fromState rejects a node count that does not match the size', () => {
    const frontier = new MerkleFrontier();
    ALL_LEAVES.slice(0, 6).forEach((leaf) => frontier.append(leaf));
    expect(() => MerkleFrontier.fromState(7, frontier.nodes)).toThrow(RangeError);
  });

  it('append rejects a hash that is not 32 bytes', () => {
    expect(() => new MerkleFrontier().append(new Uint8Array(31))).toThrow(RangeError);
  });

  it('changing a returned root does not change the frontier', () => {
    const frontier = new MerkleFrontier();
    frontier.append(ALL_LEAVES[0] as Uint8Array);
    const root = frontier.root();
    root.fill(0);
    expect(Buffer.from(frontier.root()).equals(ALL_LEAVES[0] as Uint8Array)).toBe(true);
  });
});

describe.each(SIZES)('inclusion proofs in a tree of %i leaves', (size) => {
  const leaves = ALL_LEAVES.slice(0, size);
  const root = rootFromLeafHashes(leaves);

  it('every leaf proof verifies', () => {
    for (let index = 0; index < size; index += 1) {
      const proof = inclusionProof(index, leaves);
      const check = verifyInclusion(leaves[index] as Uint8Array, index, size, proof, root);
      expect(check, `leaf ${index}`).toEqual({ ok: true });
    }
  });

  it('altered proofs, indexes, sizes and roots fail', () => {
    for (let index = 0; index < size; index += 1) {
      const leaf = leaves[index] as Uint8Array;
      const proof = inclusionProof(index, leaves);
      const fails = (label: string, ok: boolean) =>
        expect(ok, `leaf ${index}: ${label}`).toBe(false);

      fails(
        'other leaf',
        verifyInclusion(ALL_LEAVES[size] as Uint8Array, index, size, proof, root).ok,
      );
      fails(
        'flipped leaf bit',
        verifyInclusion(flipBit(leaf, index % 256), index, size, proof, root).ok,
      );
      fails('flipped root bit', verifyInclusion(leaf, index, size, proof, flipBit(root, 255)).ok);
      fails('index + 1', verifyInclusion(leaf, index + 1, size, proof, root).ok);
      if (index > 0) fails('index - 1', verifyInclusion(leaf, index - 1, size, proof, root).ok);
      fails('index XOR 1', verifyInclusion(leaf, index ^ 1, size, proof, root).ok);
      // A proof for one size must not verify for another size against that size's root. The
      // original root is not used here: some sizes share a path shape, so the computation would
      // be identical, and a signed checkpoint never pairs a size with another size's root.
      for (const otherSize of [size + 1, size - 1, size * 2]) {
        if (otherSize <= index) continue;
        const ok = verifyInclusion(leaf, index, otherSize, proof, rootOf(otherSize)).ok;
        fails(`size ${otherSize}`, ok);
      }
      fails('extra node', verifyInclusion(leaf, index, size, [...proof, root], root).ok);
      if (proof.length > 0) {
        const position = Math.floor(random() * proof.length);
        const flipped = proof.map((node, at) => (at === position ? flipBit(node, 7) : node));
        fails('flipped proof bit', verifyInclusion(leaf, index, size, flipped, root).ok);
        fails('dropped node', verifyInclusion(leaf, index, size, proof.slice(1), root).ok);
        fails('truncated proof', verifyInclusion(leaf, index, size, proof.slice(0, -1), root).ok);
        if (proof.length > 1) {
          const reversed = [...proof].reverse();
          fails('reversed proof', verifyInclusion(leaf, index, size, reversed, root).ok);
        }
      }
    }
  });
});

describe.each(SIZES)('consistency proofs to a tree of %i leaves', (size) => {
  const leaves = ALL_LEAVES.slice(0, size);
  const root = rootFromLeafHashes(leaves);

  it('every older size verifies', () => {
    for (let oldSize = 1; oldSize <= size; oldSize += 1) {
      const oldRoot = rootOf(oldSize);
      const proof = consistencyProof(oldSize, leaves);
      const check = verifyConsistency(oldSize, size, proof, oldRoot, root);
      expect(check, `${oldSize} to ${size}`).toEqual({ ok: true });
    }
  });

  it('altered proofs, sizes and roots fail', () => {
    for (let oldSize = 1; oldSize < size; oldSize += 1) {
      const oldRoot = rootOf(oldSize);
      const proof = consistencyProof(oldSize, leaves);
      const fails = (label: string, ok: boolean) =>
        expect(ok, `${oldSize} to ${size}: ${label}`).toBe(false);
      const position = Math.floor(random() * proof.length);
      const flipped = proof.map((node, at) => (at === position ? flipBit(node, 100) : node));

      fails('flipped proof bit', verifyConsistency(oldSize, size, flipped, oldRoot, root).ok);
      fails(
        'flipped old root',
        verifyConsistency(oldSize, size, proof, flipBit(oldRoot, 3), root).ok,
      );
      fails(
        'flipped new root',
        verifyConsistency(oldSize, size, proof, oldRoot, flipBit(root, 3)).ok,
      );
      fails('swapped roots', verifyConsistency(oldSize, size, proof, root, oldRoot).ok);
      // Other sizes are checked against their own roots, for the reason given for inclusion.
      for (const otherOld of [oldSize + 1, oldSize - 1]) {
        if (otherOld < 1 || otherOld >= size) continue;
        const ok = verifyConsistency(otherOld, size, proof, rootOf(otherOld), root).ok;
        fails(`old size ${otherOld}`, ok);
      }
      for (const otherNew of [size + 1, size - 1, size * 2]) {
        if (otherNew <= oldSize) continue;
        const ok = verifyConsistency(oldSize, otherNew, proof, oldRoot, rootOf(otherNew)).ok;
        fails(`new size ${otherNew}`, ok);
      }
      fails(
        'truncated proof',
        verifyConsistency(oldSize, size, proof.slice(0, -1), oldRoot, root).ok,
      );
      fails('extra node', verifyConsistency(oldSize, size, [...proof, root], oldRoot, root).ok);
      fails(
        'leading extra node',
        verifyConsistency(oldSize, size, [oldRoot, ...proof], oldRoot, root).ok,
      );
    }
  });
});

describe('proof argument checks', () => {
  const leaves = ALL_LEAVES.slice(0, 5);
  const root = rootFromLeafHashes(leaves);

  it('inclusionProof rejects an index outside the tree', () => {
    expect(() => inclusionProof(5, leaves)).toThrow(RangeError);
    expect(() => inclusionProof(-1, leaves)).toThrow(RangeError);
  });

  it('consistencyProof rejects old size 0 and sizes past the tree', () => {
    expect(() => consistencyProof(0, leaves)).toThrow(RangeError);
    expect(() => consistencyProof(6, leaves)).toThrow(RangeError);
  });

  it('consistencyProof between equal sizes is empty', () => {
    expect(consistencyProof(5, leaves)).toEqual([]);
  });

  it('verifiers reject unsafe and fractional numbers', () => {
    const proof = inclusionProof(0, leaves);
    expect(verifyInclusion(leaves[0] as Uint8Array, 0.5, 5, proof, root).ok).toBe(false);
    expect(verifyInclusion(leaves[0] as Uint8Array, 0, 2 ** 64, proof, root).ok).toBe(false);
    expect(verifyConsistency(1, Number.NaN, [], root, root).ok).toBe(false);
  });

  it('verifiers reject proof hashes of the wrong size', () => {
    const proof = inclusionProof(1, leaves).map((node, at) => (at === 0 ? node.subarray(1) : node));
    expect(verifyInclusion(leaves[1] as Uint8Array, 1, 5, proof, root)).toEqual({
      ok: false,
      reason: 'every proof hash must be 32 bytes',
    });
  });
});
