import type { Queryable } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import { readEntriesAtSeq } from './audit-entry.reader.js';
import { checkpointAtSize, latestCheckpoint } from './checkpoint.repository.js';
import { MerkleTree } from './merkle-tree.js';
import { listSeals } from './retention-seal.repository.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * The Merkle tree of entries 1 .. treeSize: the stored leaf hashes, and for entries removed by
 * retention the last seal's Merkle frontier.
 */
export async function loadMerkleTree(
  db: Queryable,
  logId: string,
  treeSize: number,
): Promise<MerkleTree> {
  const seal = (await listSeals(db, logId)).at(-1);
  const prefixSize = seal && seal.lastSeq <= treeSize ? seal.lastSeq : 0;
  // The tree spans every organization's entries, which only this SECURITY DEFINER function reads.
  const { rows } = await db.query<{ leaf: Uint8Array }>(
    'SELECT leaf_hash AS leaf FROM audit_chain_leaves($1, $2, $3) ORDER BY seq',
    [logId, prefixSize, treeSize],
  );
  if (rows.length !== treeSize - prefixSize) {
    throw new AppError(
      'conflict',
      `The log holds ${rows.length} of the ${treeSize - prefixSize} entries needed; run audit verify`,
    );
  }
  const prefix =
    seal && prefixSize > 0
      ? { size: prefixSize, nodes: seal.frontier.map((hex) => Buffer.from(hex, 'hex')) }
      : undefined;
  return new MerkleTree(
    rows.map((row) => row.leaf),
    prefix,
  );
}

export async function signedCheckpoint(db: Queryable, logId: string, treeSize?: number) {
  const checkpoint =
    treeSize === undefined
      ? await latestCheckpoint(db, logId)
      : await checkpointAtSize(db, logId, treeSize);
  if (!checkpoint) {
    throw new AppError(
      'not_found',
      treeSize === undefined ? 'No checkpoint signed yet' : `No checkpoint of size ${treeSize}`,
    );
  }
  return checkpoint;
}

/**
 * RFC 6962 inclusion proof of the entry at `seq` in the signed checkpoint of `treeSize` (by
 * default the latest). Leaf index is seq - 1.
 */
/** Number of leading entries that retention removed. */
async function removedEntries(db: Queryable, logId: string): Promise<number> {
  return (await listSeals(db, logId)).at(-1)?.lastSeq ?? 0;
}

export async function inclusionProofFor(
  db: Queryable,
  logId: string,
  seq: number,
  treeSize?: number,
) {
  const checkpoint = await signedCheckpoint(db, logId, treeSize);
  if (seq > checkpoint.treeSize || seq <= (await removedEntries(db, logId))) {
    throw new AppError(
      'not_found',
      `Entry ${seq} is not in the checkpoint of size ${checkpoint.treeSize}; wait for the next checkpoint`,
    );
  }
  const tree = await loadMerkleTree(db, logId, checkpoint.treeSize);
  const [entry] = await readEntriesAtSeq(db, logId, seq);
  return {
    logId,
    seq,
    entry: entry ?? null,
    leafIndex: seq - 1,
    treeSize: checkpoint.treeSize,
    rootHash: hex(tree.root()),
    proof: tree.inclusionProof(seq - 1).map(hex),
    checkpoint: checkpoint.signedNote,
  };
}

/** RFC 6962 consistency proof between the signed checkpoints of sizes `from` and `to`. */
export async function consistencyProofBetween(
  db: Queryable,
  logId: string,
  from: number,
  to: number,
) {
  if (from > to) {
    throw new AppError('validation_failed', 'Validation error', [
      { field: 'from', message: `must not exceed the newer size ${to}` },
    ]);
  }
  const older = await signedCheckpoint(db, logId, from);
  const newer = await signedCheckpoint(db, logId, to);
  const tree = await loadMerkleTree(db, logId, to);
  return {
    logId,
    fromSize: from,
    toSize: to,
    fromRoot: hex(older.rootHash),
    toRoot: hex(newer.rootHash),
    proof: from === to ? [] : tree.consistencyProof(from).map(hex),
    fromCheckpoint: older.signedNote,
    toCheckpoint: newer.signedNote,
  };
}
