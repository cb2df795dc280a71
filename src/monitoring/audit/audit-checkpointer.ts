import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Logger } from 'pino';

import type { Queryable } from '../../data/database/database.js';
import { readLogState } from './audit-head.repository.js';
import { onAuditAppended } from './audit-events.js';
import { formatCheckpoint, signCheckpoint } from './checkpoint.js';
import {
  insertCheckpoint,
  latestCheckpoint,
  type StoredCheckpoint,
} from './checkpoint.repository.js';
import { bytesEqual, MerkleFrontier } from './merkle.js';
import { listSeals, sealFrontier } from './retention-seal.repository.js';
import type { AuditSigningKey } from './signing-key.js';

// Leaves hashed between two turns of the event loop while a frontier is rebuilt. At 1,000
// entries per checkpoint the rebuild takes about 2 ms of CPU; in slices of this size it never
// holds up the requests in flight for more than a fraction of a millisecond.
const LEAVES_PER_TURN = 128;

export interface CheckpointerOptions {
  logId: string;
  /** Sign once this many entries were appended since the last checkpoint. */
  everyEntries: number;
  /** Sign at least this often while entries arrive. */
  intervalMs: number;
  logger: Logger;
}

/** A checkpoint this process signed or found already signed. */
export interface SignedCheckpoint {
  treeSize: number;
  rootHash: Uint8Array;
  signedNote: string;
}

/**
 * Signs checkpoints of the audit log: every `everyEntries` appends, every `intervalMs` when
 * the log grew, and once more on shutdown. A checkpoint is the C2SP tlog-checkpoint text of
 * the log's tree size and RFC 6962 root, signed with Ed25519 as a C2SP signed note.
 */
export class AuditCheckpointer {
  private lastSignedSize = -1;
  private running: Promise<SignedCheckpoint | null> = Promise.resolve(null);
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly key: AuditSigningKey,
    private readonly options: CheckpointerOptions,
  ) {}

  /** Starts signing on the entry count and the interval. */
  start(): void {
    this.unsubscribe = onAuditAppended((logId, size) => {
      if (logId !== this.options.logId) return;
      if (size - Math.max(this.lastSignedSize, 0) >= this.options.everyEntries)
        void this.signSafely();
    });
    this.timer = setInterval(() => void this.signSafely(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the schedule and signs the final state. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.signSafely();
  }

  /**
   * Signs a checkpoint of the committed log unless one of that size exists. Calls are
   * serialised, so a burst of triggers signs each size once.
   */
  sign(): Promise<SignedCheckpoint | null> {
    this.running = this.running.catch(() => null).then(() => this.signNow());
    return this.running;
  }

  private async signSafely(): Promise<void> {
    try {
      await this.sign();
    } catch (error) {
      this.options.logger.error({ err: error }, 'failed to sign an audit checkpoint');
    }
  }

  /**
   * Rebuilds the Merkle frontier at `size` from the last checkpoint's frontier (or the last
   * retention seal's, or the empty tree) and the stored leaf hashes after it. The head row
   * is writable by the server's role, so its frontier is only trusted once it matches.
   */
  private async rebuildFrontier(
    latest: StoredCheckpoint | null,
    size: number,
  ): Promise<MerkleFrontier> {
    const logId = this.options.logId;
    let frontier = new MerkleFrontier();
    if (latest && latest.frontier.length > 0) {
      frontier = MerkleFrontier.fromState(
        latest.treeSize,
        latest.frontier.map((hex) => Buffer.from(hex, 'hex')),
      );
    } else {
      const seal = (await listSeals(this.db, logId)).at(-1);
      if (seal) frontier = sealFrontier(seal);
    }
    // The leaves of every organization's entries, through a SECURITY DEFINER function, because
    // row-level security shows the application role no entry outside a tenant scope.
    const { rows } = await this.db.query<{ leaf: Uint8Array }>(
      'SELECT leaf_hash AS leaf FROM audit_chain_leaves($1, $2, $3) ORDER BY seq',
      [logId, frontier.size, size],
    );
    if (rows.length !== size - frontier.size) {
      throw new Error(
        `audit entries ${frontier.size + 1}..${size} are not all stored; no checkpoint was ` +
          'signed. Run mindweave audit verify',
      );
    }
    for (const [index, row] of rows.entries()) {
      if (index > 0 && index % LEAVES_PER_TURN === 0) await nextTurn();
      frontier.append(row.leaf);
    }
    return frontier;
  }

  private async signNow(): Promise<SignedCheckpoint | null> {
    const state = await readLogState(this.db, this.options.logId);
    if (state.size === this.lastSignedSize) return null;
    const latest = await latestCheckpoint(this.db, this.options.logId);
    if (latest && latest.treeSize >= state.size) {
      this.lastSignedSize = latest.treeSize;
      return null;
    }
    const frontier = await this.rebuildFrontier(latest, state.size);
    const rootHash = frontier.root();
    if (!bytesEqual(rootHash, state.frontier.root())) {
      throw new Error(
        `the audit log head's Merkle frontier at size ${state.size} does not match the stored ` +
          'leaves; no checkpoint was signed. Run mindweave audit verify',
      );
    }
    const body = formatCheckpoint({
      origin: this.key.name,
      treeSize: state.size,
      rootHash,
      time: new Date().toISOString(),
      extensions: [],
    });
    const signedNote = signCheckpoint(body, this.key);
    await insertCheckpoint(this.db, this.options.logId, {
      treeSize: state.size,
      rootHash,
      signedNote,
      frontier: frontier.nodes.map((node) => Buffer.from(node).toString('hex')),
    });
    this.lastSignedSize = state.size;
    return { treeSize: state.size, rootHash, signedNote };
  }
}
