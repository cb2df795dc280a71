import { hashChildren, HASH_SIZE } from './merkle.js';

/** Largest power of two strictly below `n` (n >= 2), as RFC 6962 splits a tree. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * An RFC 6962 Merkle tree held in memory with every level of perfect subtrees, so that the
 * root of any prefix and any inclusion or consistency proof costs O(log² n) node lookups
 * after one O(n) build. Used to serve many proofs from one tree, as an export does.
 */
export class MerkleTree {
  /**
   * levels[h][i] is the root of the perfect subtree of 2^h stored leaves starting at stored
   * leaf i * 2^h; stored leaf 0 is leaf `prefixSize` of the tree.
   */
  private readonly levels: Uint8Array[][];
  /** Roots of the perfect subtrees covering leaves before `prefixSize`, keyed `start:size`. */
  private readonly prefixNodes = new Map<string, Uint8Array>();
  private readonly computed = new Map<string, Uint8Array>();
  private readonly prefixSize: number;

  /**
   * Builds the tree of `leafHashes`. With `prefix`, the tree starts with `prefix.size` leaves
   * that are no longer stored (removed by retention), known only by their Merkle frontier:
   * the roots of the perfect subtrees of the binary decomposition of `prefix.size`. Proofs for
   * later leaves need only those roots.
   */
  constructor(
    leafHashes: readonly Uint8Array[],
    prefix?: { size: number; nodes: readonly Uint8Array[] },
  ) {
    this.prefixSize = prefix?.size ?? 0;
    // The frontier lists the subtrees largest first: each is the largest power of two that
    // fits in what remains of the prefix.
    let start = 0;
    for (const node of prefix?.nodes ?? []) {
      if (start >= this.prefixSize) throw new RangeError('the prefix frontier has too many nodes');
      const size = 2 ** Math.floor(Math.log2(this.prefixSize - start));
      this.prefixNodes.set(`${start}:${size}`, node);
      start += size;
    }
    if (start !== this.prefixSize) throw new RangeError('the prefix frontier has too few nodes');
    for (const leaf of leafHashes) {
      if (leaf.length !== HASH_SIZE) throw new RangeError('leaf hashes must be 32 bytes');
    }
    this.levels = [leafHashes.slice()];
    for (let level = this.levels[0] as Uint8Array[]; level.length > 1;) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) {
        next.push(hashChildren(level[i] as Uint8Array, level[i + 1] as Uint8Array));
      }
      this.levels.push(next);
      level = next;
    }
  }

  get size(): number {
    return this.prefixSize + (this.levels[0] as Uint8Array[]).length;
  }

  /** Root of the first `size` leaves. */
  root(size = this.size): Uint8Array {
    this.checkSize(size);
    if (size === 0) throw new RangeError('the empty tree has no leaves to prove');
    return this.subtree(0, size);
  }

  /** Audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH). */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < this.prefixSize || index >= size) {
      throw new RangeError(
        `leaf index ${index} is outside the stored leaves ${this.prefixSize}..${size - 1}`,
      );
    }
    const proof: Uint8Array[] = [];
    this.path(index, 0, size, proof);
    return proof;
  }

  /** Consistency proof from the tree of `oldSize` leaves to `newSize` (RFC 6962 PROOF). */
  consistencyProof(oldSize: number, newSize = this.size): Uint8Array[] {
    this.checkSize(newSize);
    if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > newSize) {
      throw new RangeError(`old size ${oldSize} must be between 1 and ${newSize}`);
    }
    const proof: Uint8Array[] = [];
    this.subproof(oldSize, 0, newSize, true, proof);
    return proof;
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
    }
  }

  /** Root of `size` leaves starting at `start`, from cached perfect subtrees. */
  private subtree(start: number, size: number): Uint8Array {
    if ((size & (size - 1)) === 0 && start % size === 0) return this.perfect(start, size);
    const k = splitPoint(size);
    return hashChildren(this.subtree(start, k), this.subtree(start + k, size - k));
  }

  /** Root of the aligned perfect subtree of `size` leaves at `start`. */
  private perfect(start: number, size: number): Uint8Array {
    const key = `${start}:${size}`;
    const known = this.prefixNodes.get(key) ?? this.computed.get(key);
    if (known) return known;
    const stored = start - this.prefixSize;
    if (stored >= 0 && stored % size === 0) {
      const node = this.levels[Math.log2(size)]?.[stored / size];
      if (node) return node;
    }
    if (size === 1) throw new RangeError(`leaf ${start} was removed and is not in the frontier`);
    const half = size / 2;
    const node = hashChildren(this.perfect(start, half), this.perfect(start + half, half));
    this.computed.set(key, node);
    return node;
  }

  private path(index: number, start: number, size: number, proof: Uint8Array[]): void {
    if (size === 1) return;
    const k = splitPoint(size);
    if (index < k) {
      this.path(index, start, k, proof);
      proof.push(this.subtree(start + k, size - k));
    } else {
      this.path(index - k, start + k, size - k, proof);
      proof.push(this.subtree(start, k));
    }
  }

  private subproof(
    m: number,
    start: number,
    size: number,
    complete: boolean,
    proof: Uint8Array[],
  ): void {
    if (m === size) {
      if (!complete) proof.push(this.subtree(start, size));
      return;
    }
    const k = splitPoint(size);
    if (m <= k) {
      this.subproof(m, start, k, complete, proof);
      proof.push(this.subtree(start + k, size - k));
    } else {
      this.subproof(m - k, start + k, size - k, false, proof);
      proof.push(this.subtree(start, k));
    }
  }
}
