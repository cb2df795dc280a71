import { hash } from 'node:crypto';

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256: leaf and node hashes, roots, an
 * append-only frontier, and inclusion and consistency proofs. Tree sizes and indexes are
 * JavaScript numbers, so they are limited to `Number.MAX_SAFE_INTEGER` (2^53 - 1).
 */

/** Size in bytes of every hash in the tree. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
const EMPTY_ROOT: Uint8Array = hash('sha256', Buffer.alloc(0), 'buffer');

/** Outcome of a proof verification. A failure carries its reason instead of throwing. */
export type ProofCheck = { ok: true } | { ok: false; reason: string };

const VALID: ProofCheck = { ok: true };

function fail(reason: string): ProofCheck {
  return { ok: false, reason };
}

/** Computes the leaf hash SHA-256(0x00 || data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** Computes the interior node hash SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

/** Returns the root of the empty tree, SHA-256 of no bytes. */
export function emptyRoot(): Uint8Array {
  return Uint8Array.from(EMPTY_ROOT);
}

/** Compares two byte arrays for equal length and content. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function isTreeNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Returns the largest power of two strictly less than `n`, for `n >= 2`. */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function countOneBits(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) count += rest % 2;
  return count;
}

function checkHashSize(hash: Uint8Array, name: string): void {
  if (hash.length !== HASH_SIZE) {
    throw new RangeError(`${name} must be ${HASH_SIZE} bytes, got ${hash.length}`);
  }
}

/**
 * Append-only Merkle frontier (a compact range starting at leaf 0). It stores the root of each
 * perfect subtree in the binary decomposition of the size, so memory is O(log n) and the root of
 * the tree so far costs O(log n) node hashes. This is what lets a verifier stream a whole log.
 */
export class MerkleFrontier {
  /** Perfect subtree roots, largest (leftmost) first, one per set bit of `#size`. */
  readonly #nodes: Uint8Array[];
  #size: number;

  /** Creates an empty frontier. */
  constructor() {
    this.#nodes = [];
    this.#size = 0;
  }

  /**
   * Restores a frontier from a saved `size` and `nodes`, for example to continue appending after
   * a restart without reading every earlier leaf.
   *
   * @throws RangeError when the node count does not match the set bits of `size`.
   */
  static fromState(size: number, nodes: readonly Uint8Array[]): MerkleFrontier {
    if (!isTreeNumber(size)) throw new RangeError(`invalid frontier size ${size}`);
    if (nodes.length !== countOneBits(size)) {
      throw new RangeError(
        `a frontier of size ${size} has ${countOneBits(size)} nodes, got ${nodes.length}`,
      );
    }
    nodes.forEach((node, index) => checkHashSize(node, `frontier node ${index}`));
    const frontier = new MerkleFrontier();
    frontier.#nodes.push(...nodes.map((node) => Uint8Array.from(node)));
    frontier.#size = size;
    return frontier;
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Copies of the perfect subtree roots, largest first, for `fromState`. */
  get nodes(): Uint8Array[] {
    return this.#nodes.map((node) => Uint8Array.from(node));
  }

  /**
   * Appends one leaf hash (not leaf data). Each set low bit of the old size is a left sibling of
   * the same height, so the new leaf merges with it, and the merged node moves up one level.
   *
   * @throws RangeError when `leafHash` is not 32 bytes or the tree would exceed 2^53 - 1 leaves.
   */
  append(leafHash: Uint8Array): void {
    checkHashSize(leafHash, 'leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('Merkle tree is full');
    let node = leafHash;
    for (let rest = this.#size; rest % 2 === 1; rest = (rest - 1) / 2) {
      const left = this.#nodes.pop();
      if (left === undefined) throw new Error('frontier nodes do not match its size');
      node = hashChildren(left, node);
    }
    this.#nodes.push(node);
    this.#size += 1;
  }

  /** Computes the RFC 6962 root of all leaves appended so far. */
  root(): Uint8Array {
    const last = this.#nodes.length - 1;
    if (last < 0) return emptyRoot();
    // Copy the stored node so that a caller changing the returned root cannot change the frontier.
    let node: Uint8Array = Uint8Array.from(this.#nodes[last] as Uint8Array);
    for (let index = last - 1; index >= 0; index -= 1) {
      node = hashChildren(this.#nodes[index] as Uint8Array, node);
    }
    return node;
  }
}

/** Computes the RFC 6962 root of leaf hashes `start` (inclusive) to `end` (exclusive). */
function rootOfRange(leafHashes: readonly Uint8Array[], start: number, end: number): Uint8Array {
  const frontier = new MerkleFrontier();
  for (let index = start; index < end; index += 1) {
    frontier.append(leafHashes[index] as Uint8Array);
  }
  return frontier.root();
}

/**
 * Computes the RFC 6962 root of a list of leaf hashes in O(n) time.
 *
 * @throws RangeError when a leaf hash is not 32 bytes.
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  return rootOfRange(leafHashes, 0, leafHashes.length);
}

/** Builds the audit path of RFC 9162 section 2.1.3.1, deepest sibling first. */
function auditPath(
  index: number,
  leafHashes: readonly Uint8Array[],
  start: number,
  end: number,
): Uint8Array[] {
  const size = end - start;
  if (size <= 1) return [];
  const split = largestPowerOfTwoBelow(size);
  if (index < split) {
    const path = auditPath(index, leafHashes, start, start + split);
    path.push(rootOfRange(leafHashes, start + split, end));
    return path;
  }
  const path = auditPath(index - split, leafHashes, start + split, end);
  path.push(rootOfRange(leafHashes, start, start + split));
  return path;
}

/**
 * Generates the inclusion proof (audit path) of leaf `index` in the tree of all `leafHashes`.
 *
 * @throws RangeError when `index` is not a leaf of the tree or a leaf hash is not 32 bytes.
 */
export function inclusionProof(index: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  if (!isTreeNumber(index) || index >= leafHashes.length) {
    throw new RangeError(`leaf index ${index} is outside a tree of size ${leafHashes.length}`);
  }
  leafHashes.forEach((leaf, position) => checkHashSize(leaf, `leaf hash ${position}`));
  return auditPath(index, leafHashes, 0, leafHashes.length);
}

/**
 * Verifies that `leafHash` is leaf `index` of the tree of `treeSize` leaves with root `root`,
 * following RFC 9162 section 2.1.3.2.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): ProofCheck {
  if (!isTreeNumber(index) || !isTreeNumber(treeSize)) {
    return fail('index and tree size must be non-negative safe integers');
  }
  if (index >= treeSize) return fail(`leaf index ${index} is outside a tree of size ${treeSize}`);
  if (leafHash.length !== HASH_SIZE) return fail(`leaf hash must be ${HASH_SIZE} bytes`);
  if (proof.some((node) => node.length !== HASH_SIZE)) {
    return fail(`every proof hash must be ${HASH_SIZE} bytes`);
  }

  // fn walks the leaf's position up the tree and sn the last leaf's position. While fn is a
  // right child, or the rightmost node at a level where it has no right sibling, the proof
  // hash goes on the left.
  let fn = index;
  let sn = treeSize - 1;
  let node = leafHash;
  for (const sibling of proof) {
    if (sn === 0) return fail('proof is longer than the path to the root');
    if (fn % 2 === 1 || fn === sn) {
      node = hashChildren(sibling, node);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      node = hashChildren(node, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail('proof is shorter than the path to the root');
  if (!bytesEqual(node, root)) return fail('computed root does not match the expected root');
  return VALID;
}

/** Builds SUBPROOF(m, D[start:end], complete) of RFC 9162 section 2.1.4.1. */
function subproof(
  oldSize: number,
  leafHashes: readonly Uint8Array[],
  start: number,
  end: number,
  complete: boolean,
): Uint8Array[] {
  const size = end - start;
  if (oldSize === size) return complete ? [] : [rootOfRange(leafHashes, start, end)];
  const split = largestPowerOfTwoBelow(size);
  if (oldSize <= split) {
    const proof = subproof(oldSize, leafHashes, start, start + split, complete);
    proof.push(rootOfRange(leafHashes, start + split, end));
    return proof;
  }
  const proof = subproof(oldSize - split, leafHashes, start + split, end, false);
  proof.push(rootOfRange(leafHashes, start, start + split));
  return proof;
}

/**
 * Generates the consistency proof from the tree of the first `oldSize` leaves to the tree of all
 * `leafHashes`. The proof between equal sizes is empty.
 *
 * @throws RangeError when `oldSize` is 0 or larger than the tree, or a leaf hash is not 32 bytes.
 */
export function consistencyProof(oldSize: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  if (!isTreeNumber(oldSize) || oldSize === 0 || oldSize > leafHashes.length) {
    throw new RangeError(
      `old tree size ${oldSize} must be between 1 and the new tree size ${leafHashes.length}`,
    );
  }
  leafHashes.forEach((leaf, position) => checkHashSize(leaf, `leaf hash ${position}`));
  return subproof(oldSize, leafHashes, 0, leafHashes.length, true);
}

/**
 * Verifies that the tree of `oldSize` leaves with root `oldRoot` is a prefix of the tree of
 * `newSize` leaves with root `newRoot`, following RFC 9162 section 2.1.4.2. Equal sizes need an
 * empty proof and equal roots. An old size of 0 always fails, because no proof links the empty
 * tree, so callers decide that case themselves.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): ProofCheck {
  if (!isTreeNumber(oldSize) || !isTreeNumber(newSize)) {
    return fail('tree sizes must be non-negative safe integers');
  }
  if (oldSize > newSize) return fail(`old size ${oldSize} is larger than new size ${newSize}`);
  if (oldSize === 0) return fail('no consistency proof exists from an empty tree');
  if (oldSize === newSize) {
    if (proof.length !== 0) return fail('proof between equal tree sizes must be empty');
    if (!bytesEqual(oldRoot, newRoot)) return fail('roots of equal tree sizes differ');
    return VALID;
  }
  if (proof.length === 0) return fail('proof is empty');
  if (proof.some((node) => node.length !== HASH_SIZE)) {
    return fail(`every proof hash must be ${HASH_SIZE} bytes`);
  }

  // When the old tree is a perfect subtree, its root is the first node of the path and the
  // proof leaves it out.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let oldNode = path[0] as Uint8Array;
  let newNode = oldNode;
  for (const sibling of path.slice(1)) {
    if (sn === 0) return fail('proof is longer than the path to the root');
    if (fn % 2 === 1 || fn === sn) {
      oldNode = hashChildren(sibling, oldNode);
      newNode = hashChildren(sibling, newNode);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      newNode = hashChildren(newNode, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail('proof is shorter than the path to the root');
  if (!bytesEqual(oldNode, oldRoot)) return fail('computed old root does not match');
  if (!bytesEqual(newNode, newRoot)) return fail('computed new root does not match');
  return VALID;
}

function isPowerOfTwo(n: number): boolean {
  let power = 1;
  while (power < n) power *= 2;
  return power === n;
}
