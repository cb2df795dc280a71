import type { Database, Queryable } from '../../data/database/database.js';
import { readStoredEntries } from './audit-entry.reader.js';
import {
  ChainVerifier,
  type ChainFault,
  type CheckpointTarget,
  type StoredAuditEntry,
} from './chain-verifier.js';
import { verifyCheckpoint } from './checkpoint.js';
import { classifyFault } from './fault-classifier.js';
import { bytesEqual, MerkleFrontier } from './merkle.js';
import { listSeals, sealFrontier, type RetentionSeal } from './retention-seal.repository.js';
import type { NoteVerifierKey } from './signing-key.js';

/** Fault kinds of a whole-log verification: the chain's, plus a checkpoint that fails to verify. */
export type VerifyFaultKind = ChainFault['kind'] | 'forged_checkpoint';

export interface VerifyFault {
  /** First bad sequence number, or the checkpoint's tree size for a forged checkpoint. */
  seq: number;
  kind: VerifyFaultKind;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  logId: string;
  entriesVerified: number;
  treeSize: number;
  rootHash: string | null;
  checkpointsVerified: number;
  externalCheckpoint: { treeSize: number; matched: boolean } | null;
  fault: VerifyFault | null;
}

export interface VerifyOptions {
  logId: string;
  verifierKey: NoteVerifierKey;
  /** A signed checkpoint kept outside the database; catches a deleted tail. */
  externalCheckpoint?: string;
  onProgress?: (verified: number, total: number) => void;
}

interface StoredNote {
  treeSize: number;
  rootHash: Buffer;
  signedNote: string;
}

/** The log head row: its size, last entry hash and Merkle frontier in hex. */
interface HeadState {
  size: number;
  lastHash: string | null;
  frontier: string[];
}

/** Reports whether `entry` is the `audit.partition_dropped` entry written with `seal`. */
function recordsSeal(entry: StoredAuditEntry, seal: RetentionSeal): boolean {
  const metadata = entry.metadata;
  if (entry.action !== 'audit.partition_dropped') return false;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return false;
  return (
    metadata['partition'] === seal.partitionName &&
    metadata['firstSeq'] === seal.firstSeq &&
    metadata['lastSeq'] === seal.lastSeq &&
    metadata['lastEntryHash'] === seal.lastEntryHash
  );
}

function headRoot(head: HeadState): Uint8Array | null {
  try {
    const nodes = head.frontier.map((hex) => Buffer.from(hex, 'hex'));
    return MerkleFrontier.fromState(head.size, nodes).root();
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/**
 * Compares the log head with the verified entries. The head is what the next append continues
 * from and what checkpoints are signed from, so entries deleted at the tail or a last entry
 * rewritten with a recomputed hash show up here even before any checkpoint covers them.
 */
function checkHead(
  head: HeadState,
  entriesVerified: number,
  afterSeq: number,
  atHeadSize: { entryHash: string; root: Uint8Array } | null,
): ChainFault | null {
  if (head.size > entriesVerified) {
    return {
      seq: BigInt(entriesVerified + 1),
      kind: 'truncated',
      detail: `log ends ${head.size - entriesVerified} entries before the size ${head.size} its head records`,
    };
  }
  if (head.size <= afterSeq || atHeadSize === null) return null;
  if (atHeadSize.entryHash !== head.lastHash) {
    return {
      seq: BigInt(head.size),
      kind: 'edited',
      detail: `entry ${head.size} does not have the hash that the log head recorded for it`,
    };
  }
  const root = headRoot(head);
  if (root === null || !bytesEqual(root, atHeadSize.root)) {
    return {
      seq: BigInt(head.size),
      kind: 'edited',
      detail: `the Merkle frontier in the log head differs from the tree of the first ${head.size} entries`,
    };
  }
  return null;
}

function forged(treeSize: number, detail: string): VerifyFault {
  return { seq: treeSize, kind: 'forged_checkpoint', detail };
}

/** Checks every stored checkpoint's signature; returns the targets to compare roots with. */
function checkStoredNotes(notes: StoredNote[], key: NoteVerifierKey) {
  const targets = new Map<number, CheckpointTarget>();
  for (const note of notes) {
    const verified = verifyCheckpoint(note.signedNote, key);
    if (!verified.ok) {
      return {
        fault: forged(
          note.treeSize,
          `stored checkpoint of size ${note.treeSize}: ${verified.reason}`,
        ),
      };
    }
    if (verified.checkpoint.treeSize !== note.treeSize) {
      return {
        fault: forged(
          note.treeSize,
          `stored checkpoint row says size ${note.treeSize} but its note says ${verified.checkpoint.treeSize}`,
        ),
      };
    }
    // Proofs and the checkpoint API serve the root_hash column, so it must be the signed root.
    if (!bytesEqual(note.rootHash, verified.checkpoint.rootHash)) {
      return {
        fault: forged(
          note.treeSize,
          `stored checkpoint of size ${note.treeSize} has a root_hash that differs from its signed root`,
        ),
      };
    }
    targets.set(note.treeSize, { treeSize: note.treeSize, rootHash: verified.checkpoint.rootHash });
  }
  return { targets };
}

/**
 * Where verification starts: after the last partition removed by retention, if any. The seals
 * must cover seq 1 onwards without gaps, and the last seal's Merkle frontier must reproduce the
 * signed checkpoint of its size, so the removed entries stay bound to what remains.
 */
async function resumePoint(
  db: Queryable,
  logId: string,
  targets: Map<number, CheckpointTarget>,
): Promise<
  | {
      afterSeq: number;
      state?: { previousHash: string; frontier: MerkleFrontier };
      lastSeal?: RetentionSeal;
    }
  | { fault: VerifyFault }
> {
  const seals = await listSeals(db, logId);
  let expected = 1;
  for (const seal of seals) {
    if (seal.firstSeq !== expected) {
      return {
        fault: {
          seq: expected,
          kind: 'deleted',
          detail: `entries from seq ${expected} are missing and no retention seal covers them`,
        },
      };
    }
    expected = seal.lastSeq + 1;
  }
  const last = seals.at(-1);
  if (!last) return { afterSeq: 0 };
  let frontier: MerkleFrontier;
  try {
    frontier = sealFrontier(last);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return {
      fault: {
        seq: last.lastSeq,
        kind: 'checkpoint_mismatch',
        detail: `the retention seal of ${last.partitionName} has an invalid frontier: ${error.message}`,
      },
    };
  }
  const target = targets.get(last.lastSeq);
  if (!target) {
    return {
      fault: forged(
        last.lastSeq,
        `no signed checkpoint of size ${last.lastSeq} backs the retention seal of ${last.partitionName}`,
      ),
    };
  }
  if (!bytesEqual(frontier.root(), target.rootHash)) {
    return {
      fault: {
        seq: last.lastSeq,
        kind: 'checkpoint_mismatch',
        detail: `the retention seal of ${last.partitionName} does not match the signed checkpoint of size ${last.lastSeq}`,
      },
    };
  }
  // Checkpoints inside the removed range can no longer be recomputed; their signatures were checked.
  for (const size of [...targets.keys()]) if (size <= last.lastSeq) targets.delete(size);
  return {
    afterSeq: last.lastSeq,
    state: { previousHash: last.lastEntryHash, frontier },
    lastSeal: last,
  };
}

/**
 * Recomputes the whole audit log: every entry hash, every chain link, the Merkle root at every
 * stored checkpoint, and each checkpoint's signature. With an external checkpoint, the log must
 * also contain at least that many entries with that root, which catches a deleted tail even
 * when the database's own checkpoints were deleted with it.
 */
export async function verifyAuditLog(
  db: Queryable & Partial<Pick<Database, 'transaction'>>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  if (!db.transaction) return verifyInSnapshot(db, options);
  // One REPEATABLE READ snapshot: the head, the checkpoints and every entry are read as of the
  // same instant, so entries appended during a long verification are not mistaken for faults.
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return verifyInSnapshot(tx, options);
  });
}

async function verifyInSnapshot(db: Queryable, options: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false,
    logId: options.logId,
    entriesVerified: 0,
    treeSize: 0,
    rootHash: null,
    checkpointsVerified: 0,
    externalCheckpoint: null,
    fault: null,
  };

  let external: CheckpointTarget | undefined;
  if (options.externalCheckpoint !== undefined) {
    const verified = verifyCheckpoint(options.externalCheckpoint, options.verifierKey);
    if (!verified.ok) {
      report.fault = forged(0, `external checkpoint: ${verified.reason}: ${verified.detail}`);
      return report;
    }
    external = { treeSize: verified.checkpoint.treeSize, rootHash: verified.checkpoint.rootHash };
    report.externalCheckpoint = { treeSize: external.treeSize, matched: false };
  }

  const { rows: notes } = await db.query<StoredNote>(
    `SELECT tree_size AS "treeSize", root_hash AS "rootHash", signed_note AS "signedNote"
       FROM audit_checkpoints
      WHERE log_id = $1 ORDER BY tree_size`,
    [options.logId],
  );
  const stored = checkStoredNotes(notes, options.verifierKey);
  if ('fault' in stored) {
    report.fault = stored.fault ?? null;
    return report;
  }

  // The head is read before the entries, so every entry it counts is committed and visible.
  const headRow = await db.query<HeadState>(
    `SELECT next_seq - 1 AS size, last_hash AS "lastHash", frontier
       FROM audit_log_heads WHERE log_id = $1`,
    [options.logId],
  );
  const head = headRow.rows[0] ?? { size: 0, lastHash: null, frontier: [] };
  const total = Math.max(head.size, notes.at(-1)?.treeSize ?? 0, external?.treeSize ?? 0);

  const resume = await resumePoint(db, options.logId, stored.targets);
  if ('fault' in resume) {
    report.fault = resume.fault;
    return report;
  }
  const verifier = new ChainVerifier({
    logId: options.logId,
    checkpoint: external,
    firstSeq: BigInt(resume.afterSeq + 1),
    resumeFrom: resume.state,
  });
  let chainFault: ChainFault | null = null;
  let atHeadSize: { entryHash: string; root: Uint8Array } | null = null;
  let lastSealRecorded = false;
  for await (const entry of readStoredEntries(db, options.logId, { afterSeq: resume.afterSeq })) {
    chainFault = verifier.push(entry);
    if (chainFault) break;
    const size = verifier.verifiedEntries;
    if (size === head.size)
      atHeadSize = { entryHash: entry.entryHash, root: verifier.currentRoot() };
    if (resume.lastSeal && recordsSeal(entry, resume.lastSeal)) lastSealRecorded = true;
    const target = stored.targets.get(size);
    if (target) {
      const root = verifier.currentRoot();
      if (!bytesEqual(root, target.rootHash)) {
        chainFault = {
          seq: BigInt(size),
          kind: 'checkpoint_mismatch',
          detail: `Merkle root of the first ${size} entries differs from the signed checkpoint of that size`,
        };
        break;
      }
      report.checkpointsVerified++;
    }
    if (size % 50_000 === 0) options.onProgress?.(size, total);
  }

  const result = chainFault ? null : verifier.finish();
  if (!chainFault && result && !result.ok) chainFault = result.fault;
  report.entriesVerified = verifier.verifiedEntries;
  options.onProgress?.(report.entriesVerified, total);

  if (!chainFault) {
    const beyond = notes.find((note) => note.treeSize > report.entriesVerified);
    if (beyond) {
      chainFault = {
        seq: BigInt(report.entriesVerified + 1),
        kind: 'truncated',
        detail: `log ends ${beyond.treeSize - report.entriesVerified} entries before the signed checkpoint of size ${beyond.treeSize}`,
      };
    }
  }
  if (!chainFault) {
    chainFault = checkHead(head, report.entriesVerified, resume.afterSeq, atHeadSize);
  }
  if (!chainFault) {
    // The head only grows, so entries beyond its current size bypassed the append path.
    const now = await db.query<{ size: number }>(
      'SELECT next_seq - 1 AS size FROM audit_log_heads WHERE log_id = $1',
      [options.logId],
    );
    const sizeNow = now.rows[0]?.size ?? 0;
    if (sizeNow < report.entriesVerified) {
      chainFault = {
        seq: BigInt(sizeNow + 1),
        kind: 'inserted',
        detail: `the log holds ${report.entriesVerified} entries but its head records ${sizeNow}`,
      };
    }
  }
  if (!chainFault && resume.lastSeal && !lastSealRecorded) {
    const seal = resume.lastSeal;
    chainFault = {
      seq: BigInt(seal.firstSeq),
      kind: 'deleted',
      detail:
        `entries ${seal.firstSeq}..${seal.lastSeq} are gone, and no audit.partition_dropped ` +
        `entry records the retention seal of ${seal.partitionName}`,
    };
  }
  if (chainFault) {
    const refined = await classifyFault(db, options.logId, chainFault);
    report.fault = { seq: Number(refined.seq), kind: refined.kind, detail: refined.detail };
    return report;
  }
  if (result?.ok) {
    report.treeSize = result.treeSize;
    report.rootHash = Buffer.from(result.rootHash).toString('hex');
    if (report.externalCheckpoint) report.externalCheckpoint.matched = result.checkpointMatched;
  }
  report.ok = true;
  return report;
}
