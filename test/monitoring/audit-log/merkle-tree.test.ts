import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  consistencyProof,
  hashLeaf,
  MerkleFrontier,
  inclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/monitoring/audit/merkle.js';
import { MerkleTree } from '../../../src/monitoring/audit/merkle-tree.js';

const leaves = (n: number) =>
  Array.from({ length: n }, (_, i) => hashLeaf(createHash('sha256').update(String(i)).digest()));

const hex = (list: Uint8Array[]) => list.map((node) => Buffer.from(node).toString('hex'));

describe('MerkleTree', () => {
  it('matches the reference root, inclusion and consistency proofs', () => {
    for (const n of [1, 2, 3, 5, 7, 8, 13, 16, 31, 64, 100]) {
      const all = leaves(n);
      const tree = new MerkleTree(all);
      for (let size = 1; size <= n; size++) {
        const prefix = all.slice(0, size);
        const root = rootFromLeafHashes(prefix);
        expect(Buffer.from(tree.root(size)).toString('hex')).toBe(
          Buffer.from(root).toString('hex'),
        );
        for (let index = 0; index < size; index += Math.max(1, Math.floor(size / 5))) {
          const proof = tree.inclusionProof(index, size);
          expect(hex(proof)).toEqual(hex(inclusionProof(index, prefix)));
          expect(verifyInclusion(prefix[index] as Uint8Array, index, size, proof, root)).toEqual({
            ok: true,
          });
        }
        for (let old = 1; old <= size; old += Math.max(1, Math.floor(size / 4))) {
          const proof = tree.consistencyProof(old, size);
          expect(hex(proof)).toEqual(hex(consistencyProof(old, prefix)));
          const oldRoot = rootFromLeafHashes(all.slice(0, old));
          expect(verifyConsistency(old, size, proof, oldRoot, root)).toEqual({ ok: true });
        }
      }
    }
  });

  it('rejects indexes and sizes outside the tree', () => {
    const tree = new MerkleTree(leaves(4));
    expect(() => tree.inclusionProof(4, 4)).toThrow(RangeError);
    expect(() => tree.inclusionProof(0, 5)).toThrow(RangeError);
    expect(() => tree.consistencyProof(0, 4)).toThrow(RangeError);
    expect(() => tree.consistencyProof(3, 2)).toThrow(RangeError);
  });
});

describe('MerkleTree with a removed prefix', () => {
  it('matches the full tree for every stored leaf', () => {
    for (const n of [2, 5, 8, 13, 33]) {
      const all = leaves(n);
      const full = new MerkleTree(all);
      for (let k = 1; k < n; k++) {
        const frontier = new MerkleFrontier();
        for (const leaf of all.slice(0, k)) frontier.append(leaf);
        const tree = new MerkleTree(all.slice(k), { size: k, nodes: frontier.nodes });
        expect(Buffer.from(tree.root()).toString('hex')).toBe(
          Buffer.from(full.root()).toString('hex'),
        );
        for (let index = k; index < n; index++) {
          expect(hex(tree.inclusionProof(index))).toEqual(hex(full.inclusionProof(index)));
        }
        for (let old = k; old <= n; old++) {
          expect(hex(tree.consistencyProof(old))).toEqual(hex(full.consistencyProof(old)));
        }
      }
    }
  });

  it('rejects proofs for removed leaves', () => {
    const all = leaves(6);
    const frontier = new MerkleFrontier();
    for (const leaf of all.slice(0, 3)) frontier.append(leaf);
    const tree = new MerkleTree(all.slice(3), { size: 3, nodes: frontier.nodes });
    expect(() => tree.inclusionProof(2)).toThrow(RangeError);
  });
});
