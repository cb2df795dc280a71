import type { Queryable } from '../../data/database/database.js';
import { MerkleFrontier } from './merkle.js';

/** Record of a dropped partition: its seq range, last hash and Merkle frontier. */
export interface RetentionSeal {
  partitionName: string;
  firstSeq: number;
  lastSeq: number;
  lastEntryHash: string;
  frontier: string[];
  checkpointNote: string;
  droppedAt: Date;
}

const COLUMNS = `partition_name AS "partitionName", first_seq AS "firstSeq", last_seq AS "lastSeq",
  last_entry_hash AS "lastEntryHash", frontier, checkpoint_note AS "checkpointNote",
  dropped_at AS "droppedAt"`;

export async function listSeals(db: Queryable, logId: string): Promise<RetentionSeal[]> {
  const { rows } = await db.query<RetentionSeal>(
    `SELECT ${COLUMNS} FROM audit_retention_seals WHERE log_id = $1 ORDER BY first_seq`,
    [logId],
  );
  return rows;
}

export async function insertSeal(
  db: Queryable,
  logId: string,
  seal: Omit<RetentionSeal, 'droppedAt'>,
) {
  await db.query(
    `INSERT INTO audit_retention_seals (log_id, partition_name, first_seq, last_seq,
       last_entry_hash, frontier, checkpoint_note) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      logId,
      seal.partitionName,
      seal.firstSeq,
      seal.lastSeq,
      seal.lastEntryHash,
      seal.frontier,
      seal.checkpointNote,
    ],
  );
}

/** The frontier a seal stores, as a Merkle frontier over entries 1 .. lastSeq. */
export function sealFrontier(seal: RetentionSeal): MerkleFrontier {
  return MerkleFrontier.fromState(
    seal.lastSeq,
    seal.frontier.map((hex) => Buffer.from(hex, 'hex')),
  );
}
