import { AuditEncodingError, type AuditEntryFields } from './canonical-encoding.js';
import { digestEntry, type EntryDigests } from './entry-hash.js';
import { MerkleFrontier, bytesEqual, emptyRoot } from './merkle.js';

/** An entry as read back from storage: its fields and the entry hash stored with them. */
export interface StoredAuditEntry extends AuditEntryFields {
  /** Lowercase hex entry hash stored when the entry was written. */
  entryHash: string;
  /**
   * Lowercase hex Merkle leaf hash stored with the entry, when the reader loads it. Proofs are
   * built from the stored leaf hashes, so they must equal the recomputed ones.
   */
  leafHash?: string;
  /**
   * Description of a difference between a field's stored form and the hashed value, when the
   * reader found one (for example a JSON number stored as a literal no JavaScript number prints).
   */
  storedFormProblem?: string;
}

/**
 * Kind of the first fault found in a log.
 *
 * - `malformed`: a field breaks the stored format, so the entry cannot be encoded.
 * - `wrong_log`: the entry's logId differs from the log being verified.
 * - `edited`: the recomputed entry hash differs from the stored one.
 * - `deleted`: sequence numbers skip `seq`, and `seq` does not follow right after the gap.
 * - `reordered`: `seq` appears after a higher sequence number.
 * - `inserted`: two entries share `seq`, or the entry after `seq` links past it to the entry
 *   before it, so the entry at `seq` was spliced into the chain.
 * - `chain_broken`: the entry's previousHash is not the previous entry's hash, and no other kind
 *   explains it. The previous entry was rewritten together with its stored hash, or this entry
 *   was re-linked.
 * - `truncated`: the log ends before the checkpoint's tree size, and `seq` is the first missing.
 * - `checkpoint_mismatch`: the Merkle root of the first treeSize entries differs from the
 *   checkpoint root, so the entries were rewritten or the checkpoint is forged.
 */
export type ChainFaultKind =
  | 'malformed'
  | 'wrong_log'
  | 'edited'
  | 'deleted'
  | 'reordered'
  | 'inserted'
  | 'chain_broken'
  | 'truncated'
  | 'checkpoint_mismatch';

/** First fault found, with the sequence number it concerns. */
export interface ChainFault {
  seq: bigint;
  kind: ChainFaultKind;
  detail: string;
}

/** Signed tree head to compare the entries against. */
export interface CheckpointTarget {
  treeSize: number;
  rootHash: Uint8Array;
}

/** Start and comparison target of a log verification. */
export interface ChainVerifierOptions {
  /** Sequence number of the first entry of the log, 1n by default. */
  firstSeq?: bigint;
  /**
   * State after the entries before `firstSeq`, when those were removed by retention: the hash
   * of the last removed entry and the Merkle frontier over all removed entries.
   */
  resumeFrom?: { previousHash: string; frontier: MerkleFrontier };
  /** Expected logId, by default the logId of the first entry. */
  logId?: string;
  /** Checkpoint whose tree size and root the entries must match. */
  checkpoint?: CheckpointTarget;
}

/** Result of verifying a whole log. */
export type ChainVerification =
  | {
      ok: true;
      /** Number of entries, which is the Merkle tree size. */
      treeSize: number;
      rootHash: Uint8Array;
      lastSeq: bigint | null;
      lastEntryHash: string | null;
      /** Whether a checkpoint was given and matched. */
      checkpointMatched: boolean;
    }
  | { ok: false; fault: ChainFault; verifiedEntries: number };

const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;
const SEQ_PATTERN = /^(0|[1-9][0-9]*)$/;

/**
 * Streaming verifier of one log in seq order. It recomputes each entry hash, checks each
 * previousHash link and appends each leaf to a Merkle frontier, so memory stays O(log n). Feed
 * entries with `push` and call `finish` at the end. The first fault stops verification.
 */
export class ChainVerifier {
  readonly #firstSeq: bigint;
  readonly #checkpoint: CheckpointTarget | undefined;
  readonly #frontier: MerkleFrontier;
  #logId: string | undefined;
  #expectedSeq: bigint;
  #previousHash: string | null = null;
  /** Hash of the entry before the previous one, or undefined before the second entry. */
  #hashBeforePrevious: string | null | undefined = undefined;
  #lastSeq: bigint | null = null;
  /** Sequence number missing before the last pushed entry. The next entry decides its kind. */
  #gapAt: bigint | null = null;
  /** Sequence number of the entry that came where `#gapAt` was expected. */
  #gapEntrySeq: bigint | null = null;
  #checkpointMatched = false;
  #fault: ChainFault | null = null;

  /** Creates a verifier for a log that starts at `options.firstSeq`. */
  constructor(options: ChainVerifierOptions = {}) {
    this.#firstSeq = options.firstSeq ?? 1n;
    this.#expectedSeq = this.#firstSeq;
    this.#frontier = options.resumeFrom?.frontier ?? new MerkleFrontier();
    this.#previousHash = options.resumeFrom?.previousHash ?? null;
    this.#logId = options.logId;
    this.#checkpoint = options.checkpoint;
  }

  /** Number of entries verified and appended to the Merkle tree so far. */
  get verifiedEntries(): number {
    return this.#frontier.size;
  }

  #report(seq: bigint, kind: ChainFaultKind, detail: string): ChainFault {
    this.#fault = { seq, kind, detail };
    return this.#fault;
  }

  /**
   * Checks the next entry and returns the first fault found so far, or null. After a fault,
   * further entries are ignored and the same fault is returned.
   */
  push(entry: StoredAuditEntry): ChainFault | null {
    if (this.#fault !== null) return this.#fault;
    const expected = this.#expectedSeq;
    const seq = typeof entry === 'object' && entry !== null ? parseSeq(entry) : null;
    if (this.#gapAt !== null) {
      // A gap followed at once by the missing number means two entries swapped places.
      if (seq === this.#gapAt) {
        return this.#report(seq, 'reordered', `seq ${seq} comes after seq ${this.#gapEntrySeq}`);
      }
      return this.#report(this.#gapAt, 'deleted', `seq ${this.#gapAt} is missing`);
    }
    if (seq === null) {
      return this.#report(expected, 'malformed', 'entry has no decimal integer string seq');
    }
    let digests: EntryDigests;
    try {
      digests = digestEntry(entry);
    } catch (error) {
      if (!(error instanceof AuditEncodingError)) throw error;
      return this.#report(seq, 'malformed', error.message);
    }
    if (typeof entry.entryHash !== 'string' || !HASH_HEX_PATTERN.test(entry.entryHash)) {
      return this.#report(seq, 'malformed', 'stored entryHash is not 64 lowercase hex characters');
    }
    this.#logId ??= entry.logId;
    if (entry.logId !== this.#logId) {
      return this.#report(seq, 'wrong_log', `logId ${entry.logId} is not ${this.#logId}`);
    }
    if (seq < expected) {
      if (seq === this.#lastSeq) {
        return this.#report(seq, 'inserted', `two entries have seq ${seq}`);
      }
      return this.#report(seq, 'reordered', `seq ${seq} comes after seq ${this.#lastSeq}`);
    }
    if (seq > expected) {
      this.#gapAt = expected;
      this.#gapEntrySeq = seq;
      return null;
    }
    if (digests.entryHash !== entry.entryHash) {
      return this.#report(seq, 'edited', 'recomputed entry hash differs from the stored hash');
    }
    if (entry.storedFormProblem !== undefined) {
      return this.#report(seq, 'edited', entry.storedFormProblem);
    }
    if (
      entry.leafHash !== undefined &&
      entry.leafHash !== Buffer.from(digests.leafHash).toString('hex')
    ) {
      return this.#report(seq, 'edited', 'recomputed leaf hash differs from the stored leaf hash');
    }
    const linkFault = this.#checkLink(seq, entry.previousHash);
    if (linkFault !== null) return linkFault;

    this.#frontier.append(digests.leafHash);
    this.#hashBeforePrevious = this.#previousHash;
    this.#previousHash = entry.entryHash;
    this.#lastSeq = seq;
    this.#expectedSeq = seq + 1n;
    return this.#checkCheckpointAtSize(seq);
  }

  #checkLink(seq: bigint, previousHash: string | null): ChainFault | null {
    if (previousHash === this.#previousHash) return null;
    const previousSeq = seq - 1n;
    if (this.#hashBeforePrevious !== undefined && previousHash === this.#hashBeforePrevious) {
      return this.#report(
        previousSeq,
        'inserted',
        `entry ${seq} links to entry ${previousSeq - 1n}, so entry ${previousSeq} was inserted`,
      );
    }
    if (this.#lastSeq === null) {
      return this.#report(seq, 'chain_broken', 'first entry does not have a null previousHash');
    }
    return this.#report(
      seq,
      'chain_broken',
      `previousHash is not the hash of entry ${previousSeq}, so entry ${previousSeq} was ` +
        `rewritten with its stored hash or entry ${seq} was re-linked`,
    );
  }

  #checkCheckpointAtSize(seq: bigint): ChainFault | null {
    const checkpoint = this.#checkpoint;
    if (checkpoint === undefined || this.#frontier.size !== checkpoint.treeSize) return null;
    if (!bytesEqual(this.#frontier.root(), checkpoint.rootHash)) {
      return this.#report(
        seq,
        'checkpoint_mismatch',
        `Merkle root of the first ${checkpoint.treeSize} entries differs from the checkpoint root`,
      );
    }
    this.#checkpointMatched = true;
    return null;
  }

  /** The Merkle frontier of the entries verified so far, as hex nodes, for a retention seal. */
  frontierState(): string[] {
    return this.#frontier.nodes.map((node) => Buffer.from(node).toString('hex'));
  }

  /** Computes the Merkle root of the entries verified so far. */
  currentRoot(): Uint8Array {
    return this.#frontier.root();
  }

  /** Ends the stream: resolves a pending gap and compares the log with the checkpoint. */
  finish(): ChainVerification {
    if (this.#fault === null && this.#gapAt !== null) {
      this.#report(this.#gapAt, 'deleted', `seq ${this.#gapAt} is missing`);
    }
    const checkpoint = this.#checkpoint;
    if (this.#fault === null && checkpoint !== undefined && !this.#checkpointMatched) {
      if (checkpoint.treeSize === 0) {
        if (bytesEqual(emptyRoot(), checkpoint.rootHash)) this.#checkpointMatched = true;
        else this.#report(this.#firstSeq, 'checkpoint_mismatch', 'empty tree root is wrong');
      } else {
        const missing = checkpoint.treeSize - this.#frontier.size;
        this.#report(
          this.#expectedSeq,
          'truncated',
          `log ends ${missing} entries before the checkpoint size ${checkpoint.treeSize}`,
        );
      }
    }
    if (this.#fault !== null) {
      return { ok: false, fault: this.#fault, verifiedEntries: this.#frontier.size };
    }
    return {
      ok: true,
      treeSize: this.#frontier.size,
      rootHash: this.#frontier.root(),
      lastSeq: this.#lastSeq,
      lastEntryHash: this.#previousHash,
      checkpointMatched: this.#checkpointMatched,
    };
  }
}

function parseSeq(entry: StoredAuditEntry): bigint | null {
  return typeof entry.seq === 'string' && SEQ_PATTERN.test(entry.seq) ? BigInt(entry.seq) : null;
}

/**
 * Verifies a whole log from entries in seq order, stopping at the first fault. Accepts arrays,
 * generators and async iterables such as a database cursor.
 */
export async function verifyChain(
  entries: Iterable<StoredAuditEntry> | AsyncIterable<StoredAuditEntry>,
  options: ChainVerifierOptions = {},
): Promise<ChainVerification> {
  const verifier = new ChainVerifier(options);
  for await (const entry of entries) {
    if (verifier.push(entry) !== null) break;
  }
  return verifier.finish();
}
