import type { Queryable } from '../../data/database/database.js';
import { MerkleFrontier } from './merkle.js';

/** The committed state of a log: its size and Merkle tree. */
export interface LogState {
  size: number;
  lastHash: string | null;
  frontier: MerkleFrontier;
}

/** Reads the committed size and Merkle frontier of a log. */
export async function readLogState(db: Queryable, logId: string): Promise<LogState> {
  const result = await db.query<{ nextSeq: number; lastHash: string | null; frontier: string[] }>(
    `SELECT next_seq AS "nextSeq", last_hash AS "lastHash", frontier
       FROM audit_log_heads WHERE log_id = $1`,
    [logId],
  );
  const head = result.rows[0];
  if (!head) throw new Error(`audit log ${logId} has no head row`);
  const size = head.nextSeq - 1;
  const nodes = head.frontier.map((hex) => Buffer.from(hex, 'hex'));
  return { size, lastHash: head.lastHash, frontier: MerkleFrontier.fromState(size, nodes) };
}
