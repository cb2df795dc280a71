import type { Queryable } from '../../data/database/database.js';

/** A stored signed checkpoint. */
export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  signedNote: string;
  /** Hex Merkle frontier at `treeSize`; empty for checkpoints stored without one. */
  frontier: string[];
  createdAt: Date;
}

const COLUMNS = `tree_size AS "treeSize", root_hash AS "rootHash", signed_note AS "signedNote",
  frontier, created_at AS "createdAt"`;

/** Stores a checkpoint; a checkpoint of the same size from another process is kept instead. */
export async function insertCheckpoint(
  db: Queryable,
  logId: string,
  checkpoint: { treeSize: number; rootHash: Uint8Array; signedNote: string; frontier?: string[] },
): Promise<void> {
  await db.query(
    `INSERT INTO audit_checkpoints (log_id, tree_size, root_hash, signed_note, frontier)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (log_id, tree_size) DO NOTHING`,
    [
      logId,
      checkpoint.treeSize,
      Buffer.from(checkpoint.rootHash),
      checkpoint.signedNote,
      checkpoint.frontier ?? [],
    ],
  );
}

export async function latestCheckpoint(
  db: Queryable,
  logId: string,
): Promise<StoredCheckpoint | null> {
  const result = await db.query<StoredCheckpoint>(
    `SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size DESC LIMIT 1`,
    [logId],
  );
  return result.rows[0] ?? null;
}

export async function checkpointAtSize(
  db: Queryable,
  logId: string,
  treeSize: number,
): Promise<StoredCheckpoint | null> {
  const result = await db.query<StoredCheckpoint>(
    `SELECT ${COLUMNS} FROM audit_checkpoints WHERE log_id = $1 AND tree_size = $2`,
    [logId, treeSize],
  );
  return result.rows[0] ?? null;
}
