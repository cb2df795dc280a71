import type { Queryable } from '../../data/database/database.js';
import { MAIN_LOG } from './audit.repository.js';
import { loadMerkleTree, signedCheckpoint } from './audit-proof.service.js';
import { searchAuditEntries, type AuditFilter } from './audit-query.repository.js';
import type { StoredAuditEntry } from './chain-verifier.js';
import { verifierKeyString, type AuditSigningKey } from './signing-key.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * Computes the `afterSeq` of the next export page. Entries appended after the checkpoint are
 * left out of this page, so the next page starts after the last entry exported.
 */
function nextAfterSeq(
  found: StoredAuditEntry[],
  exported: StoredAuditEntry[],
  filter: AuditFilter & { limit: number },
): string | null {
  if (exported.length < found.length) {
    // NOTE: a first page with no entry inside the checkpoint has no seq to continue after, so
    // it returns null and the caller repeats the request once a newer checkpoint exists.
    return exported.at(-1)?.seq ?? (filter.afterSeq === undefined ? null : String(filter.afterSeq));
  }
  return found.length === filter.limit ? (found.at(-1)?.seq ?? null) : null;
}

/**
 * Builds a verifiable export: one line per entry in log order, each with the entry exactly as
 * stored (personal fields sealed) and its RFC 6962 inclusion proof in the latest signed
 * checkpoint, then a last line with that checkpoint and the verifier key. A recipient checks
 * each entry without trusting MindWeave: recompute the leaf hash SHA-256(0x00 || RFC 8785 JSON
 * of the entry fields), check the proof against the root, and the checkpoint's signature.
 */
export async function exportAuditEntries(
  db: Queryable,
  signingKey: AuditSigningKey,
  filter: AuditFilter & { limit: number },
) {
  const checkpoint = await signedCheckpoint(db, MAIN_LOG);
  const entries = await searchAuditEntries(db, filter, filter.limit, 'oldest');
  const inTree = entries.filter((entry) => Number(entry.seq) <= checkpoint.treeSize);
  const tree = inTree.length > 0 ? await loadMerkleTree(db, MAIN_LOG, checkpoint.treeSize) : null;

  const lines: unknown[] = inTree.map((entry) => ({
    type: 'entry',
    entry,
    leafIndex: Number(entry.seq) - 1,
    treeSize: checkpoint.treeSize,
    inclusionProof: tree ? tree.inclusionProof(Number(entry.seq) - 1).map(hex) : [],
  }));
  lines.push({
    type: 'checkpoint',
    logId: MAIN_LOG,
    treeSize: checkpoint.treeSize,
    rootHash: checkpoint.rootHash.toString('hex'),
    signedNote: checkpoint.signedNote,
    verifierKey: verifierKeyString(signingKey),
    entries: inTree.length,
    nextAfterSeq: nextAfterSeq(entries, inTree, filter),
  });
  return lines;
}
