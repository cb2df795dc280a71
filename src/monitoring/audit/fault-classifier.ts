import type { Queryable } from '../../data/database/database.js';
import { readEntriesAtSeq } from './audit-entry.reader.js';
import type { ChainFault } from './chain-verifier.js';
import { entryHash } from './entry-hash.js';

// How far from its position an entry's original sequence number is searched for.
const SEARCH_WINDOW = 64;

/** Sequence number, near `seq`, with which the entry's fields reproduce its stored hash. */
function originalSeq(entry: { seq: string; entryHash: string } & Parameters<typeof entryHash>[0]) {
  const seq = Number(entry.seq);
  for (let distance = 1; distance <= SEARCH_WINDOW; distance++) {
    for (const candidate of [seq - distance, seq + distance]) {
      if (candidate < 1) continue;
      try {
        if (entryHash({ ...entry, seq: String(candidate) }) === entry.entryHash) return candidate;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Refines an `edited` fault found in sequence order. The verifier reads entries by seq, so an
 * entry whose seq column was changed reads as edited; this looks at the stored rows to tell:
 * - `inserted`: another row has the same seq, or an entry hashes correctly one position
 *   earlier than where it is stored, so a row was slipped in before it;
 * - `reordered`: the entry hashes correctly with another nearby seq, so rows were moved;
 * - `edited` otherwise: a field of the entry was changed.
 */
export async function classifyFault(
  db: Queryable,
  logId: string,
  fault: ChainFault,
): Promise<ChainFault> {
  if (fault.kind !== 'edited') return fault;
  const seq = Number(fault.seq);
  const rows = await readEntriesAtSeq(db, logId, seq);
  if (rows.length > 1) {
    return { seq: fault.seq, kind: 'inserted', detail: `${rows.length} entries have seq ${seq}` };
  }
  const entry = rows[0];
  if (!entry) return fault;
  const original = originalSeq(entry);
  if (original === null) {
    // The entry here is no moved original: if the next entry belongs here, this one was added.
    const next = (await readEntriesAtSeq(db, logId, seq + 1))[0];
    if (next && originalSeq(next) === seq) {
      return {
        seq: fault.seq,
        kind: 'inserted',
        detail: `entry ${seq} was inserted: the entry now at seq ${seq + 1} was written as seq ${seq}`,
      };
    }
    return fault;
  }

  if (original === seq - 1) {
    const before = (await readEntriesAtSeq(db, logId, seq - 2))[0];
    const linksPastPredecessor = (before?.entryHash ?? null) === entry.previousHash;
    if (linksPastPredecessor || seq - 2 < 1) {
      return {
        seq: BigInt(seq - 1),
        kind: 'inserted',
        detail: `entry ${seq - 1} was inserted: the entry now at seq ${seq} was written as seq ${seq - 1}`,
      };
    }
  }
  return {
    seq: fault.seq,
    kind: 'reordered',
    detail: `the entry at seq ${seq} was written as seq ${original}`,
  };
}
