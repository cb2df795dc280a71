import type { Queryable } from '../../data/database/database.js';
import { AppError } from '../../http/errors.js';
import { checkpointAtSize, latestCheckpoint } from './checkpoint.repository.js';
import { consistencyProof, inclusionProof, rootFromLeafHashes } from './merkle.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Leaf hashes of entries 1 .. treeSize, in order. */
async function leafHashes(db: Queryable, logId: string, treeSize: number): Promise<Uint8Array[]> {
  const { rows } = await db.query<{ leaf: Uint8Array }>(
    'SELECT leaf_hash AS leaf FROM audit_logs WHERE log_id = $1 AND seq <= $2 ORDER BY seq',
    [logId, treeSize],
  );
  if (rows.length !== treeSize) {
    throw new AppError(
      'conflict',
      `The log holds ${rows.length} of the ${treeSize} entries needed; run audit verify`,
    );
  }
  return rows.map((row) => row.leaf);
}

async function signedCheckpoint(db: Queryable, logId: string, treeSize?: number) {
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
export async function inclusionProofFor(
  db: Queryable,
  logId: string,
  seq: number,
  treeSize?: number,
) {
  const checkpoint = await signedCheckpoint(db, logId, treeSize);
  if (seq > checkpoint.treeSize) {
    throw new AppError(
      'not_found',
      `Entry ${seq} is not in the checkpoint of size ${checkpoint.treeSize}; wait for the next checkpoint`,
    );
  }
  const leaves = await leafHashes(db, logId, checkpoint.treeSize);
  return {
    logId,
    seq,
    leafIndex: seq - 1,
    treeSize: checkpoint.treeSize,
    leafHash: hex(leaves[seq - 1] as Uint8Array),
    rootHash: hex(rootFromLeafHashes(leaves)),
    proof: inclusionProof(seq - 1, leaves).map(hex),
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
  if (from > to) throw new AppError('validation_failed', '--from must not exceed --to');
  const older = await signedCheckpoint(db, logId, from);
  const newer = await signedCheckpoint(db, logId, to);
  const leaves = await leafHashes(db, logId, to);
  return {
    logId,
    fromSize: from,
    toSize: to,
    fromRoot: hex(older.rootHash),
    toRoot: hex(newer.rootHash),
    proof: consistencyProof(from, leaves).map(hex),
    fromCheckpoint: older.signedNote,
    toCheckpoint: newer.signedNote,
  };
}
