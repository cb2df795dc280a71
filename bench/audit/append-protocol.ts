/** Settings and messages shared by `append.ts` and its writer processes. */

/** Settings the parent passes as the first command-line argument, in JSON. */
export interface WorkerConfig {
  url: string;
  /** `chained` appends with `appendAuditRecords`, `plain` inserts into `PLAIN_TABLE`. */
  mode: 'chained' | 'plain';
  batchSize: number;
  /** Distinct per writer and run, so plain rows never collide on the primary key. */
  seqBase: number;
  durationMs: number;
  maxEntries: number;
}

/** Messages a worker sends to the parent. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; entries: number; transactions: number; elapsedMs: number }
  | { type: 'error'; message: string };

/** Unchained copy of `audit_logs` that `append.ts` creates for the baseline. */
export const PLAIN_TABLE = 'audit_logs_plain';
