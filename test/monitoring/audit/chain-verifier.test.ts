import { describe, expect, it } from 'vitest';

import type { AuditEntryFields } from '../../../src/monitoring/audit/canonical-encoding.js';
import {
  ChainVerifier,
  verifyChain,
  type ChainVerification,
  type ChainVerifierOptions,
  type StoredAuditEntry,
} from '../../../src/monitoring/audit/chain-verifier.js';
import { entryHash, entryLeafHash } from '../../../src/monitoring/audit/entry-hash.js';
import { emptyRoot, rootFromLeafHashes } from '../../../src/monitoring/audit/merkle.js';

const LOG_ID = 'audit.example/log';

function entryFields(seq: bigint, previousHash: string | null): AuditEntryFields {
  const second = String(Number(seq % 60n)).padStart(2, '0');
  return {
    seq: seq.toString(),
    logId: LOG_ID,
    timestamp: `2026-12-04T15:41:${second}.${String(seq).padStart(6, '0')}Z`,
    actorType: 'user',
    actorId: 'user-1',
    actorEmail: null,
    actorIp: null,
    actorUserAgent: null,
    orgId: 'org-1',
    projectId: null,
    requestId: `req-${seq}`,
    sessionId: null,
    action: 'project.update',
    resourceType: 'project',
    resourceId: 'proj-1',
    oldValues: null,
    newValues: { step: Number(seq) },
    metadata: null,
    sensitivity: 'normal',
    complianceRelevant: false,
    previousHash,
  };
}

/** Stores fields with their recomputed hash, as a writer (or an attacker) would. */
function store(fields: AuditEntryFields): StoredAuditEntry {
  return { ...fields, entryHash: entryHash(fields) };
}

/** Builds a valid log of `count` entries starting at `firstSeq`. */
function buildLog(count: number, firstSeq = 1n): StoredAuditEntry[] {
  const entries: StoredAuditEntry[] = [];
  let previousHash: string | null = null;
  for (let offset = 0n; offset < BigInt(count); offset += 1n) {
    const entry = store(entryFields(firstSeq + offset, previousHash));
    entries.push(entry);
    previousHash = entry.entryHash;
  }
  return entries;
}

function rootOf(entries: StoredAuditEntry[]): Uint8Array {
  return rootFromLeafHashes(entries.map((entry) => entryLeafHash(entry)));
}

function at(entries: StoredAuditEntry[], seq: number): StoredAuditEntry {
  return entries[seq - 1] as StoredAuditEntry;
}

async function faultOf(
  entries: StoredAuditEntry[],
  options: ChainVerifierOptions = {},
): Promise<{ seq: bigint; kind: string } | null> {
  const result = await verifyChain(entries, options);
  return result.ok ? null : { seq: result.fault.seq, kind: result.fault.kind };
}

describe('verifyChain on an intact log', () => {
  const log = buildLog(20);

  it('returns the tree size, root and last entry', async () => {
    const result = await verifyChain(log);
    expect(result).toEqual({
      ok: true,
      treeSize: 20,
      rootHash: rootOf(log),
      lastSeq: 20n,
      lastEntryHash: at(log, 20).entryHash,
      checkpointMatched: false,
    } satisfies ChainVerification);
  });

  it('matches a checkpoint of the full log', async () => {
    const result = await verifyChain(log, { checkpoint: { treeSize: 20, rootHash: rootOf(log) } });
    expect(result).toMatchObject({ ok: true, checkpointMatched: true });
  });

  it('matches a checkpoint of an earlier size', async () => {
    const checkpoint = { treeSize: 12, rootHash: rootOf(log.slice(0, 12)) };
    const result = await verifyChain(log, { checkpoint });
    expect(result).toMatchObject({ ok: true, checkpointMatched: true });
  });

  it('matches a checkpoint of the empty log', async () => {
    const result = await verifyChain([], { checkpoint: { treeSize: 0, rootHash: emptyRoot() } });
    expect(result).toMatchObject({ ok: true, treeSize: 0, checkpointMatched: true });
  });

  it('accepts an async iterable', async () => {
    async function* stream(): AsyncGenerator<StoredAuditEntry> {
      for (const entry of log) yield entry;
    }
    const result = await verifyChain(stream());
    expect(result).toMatchObject({ ok: true, treeSize: 20 });
  });

  it('accepts a log starting at seq 0', async () => {
    const result = await verifyChain(buildLog(5, 0n), { firstSeq: 0n });
    expect(result).toMatchObject({ ok: true, lastSeq: 4n });
  });

  it('accepts a row object with extra columns', async () => {
    const rows = log.map((entry, index) => ({ ...entry, id: `row-${index}` }));
    expect((await verifyChain(rows)).ok).toBe(true);
  });
});

describe('verifyChain fault kinds', () => {
  it('edited: a field changed without its stored hash', async () => {
    const log = buildLog(10);
    log[4] = { ...at(log, 5), action: 'project.delete' };
    expect(await faultOf(log)).toEqual({ seq: 5n, kind: 'edited' });
  });

  it('edited: a stored hash changed', async () => {
    const log = buildLog(10);
    log[4] = { ...at(log, 5), entryHash: 'f'.repeat(64) };
    expect(await faultOf(log)).toEqual({ seq: 5n, kind: 'edited' });
  });

  it('chain_broken: an entry rewritten together with its stored hash', async () => {
    const log = buildLog(10);
    log[4] = store({ ...at(log, 5), action: 'project.delete' });
    expect(await faultOf(log)).toEqual({ seq: 6n, kind: 'chain_broken' });
  });

  it('chain_broken: an entry re-linked to another hash', async () => {
    const log = buildLog(10);
    log[6] = store({ ...at(log, 7), previousHash: at(log, 3).entryHash });
    expect(await faultOf(log)).toEqual({ seq: 7n, kind: 'chain_broken' });
  });

  it('chain_broken: first entry with a previous hash', async () => {
    const log = buildLog(3);
    log[0] = store({ ...at(log, 1), previousHash: 'a'.repeat(64) });
    expect(await faultOf(log)).toEqual({ seq: 1n, kind: 'chain_broken' });
  });

  it('chain_broken: later entry with a null previous hash', async () => {
    const log = buildLog(5);
    log[3] = store({ ...at(log, 4), previousHash: null });
    expect(await faultOf(log)).toEqual({ seq: 4n, kind: 'chain_broken' });
  });

  it('deleted: an entry removed from the middle', async () => {
    const log = buildLog(10);
    log.splice(4, 1);
    expect(await faultOf(log)).toEqual({ seq: 5n, kind: 'deleted' });
  });

  it('deleted: the first entry removed', async () => {
    const log = buildLog(10);
    log.shift();
    expect(await faultOf(log)).toEqual({ seq: 1n, kind: 'deleted' });
  });

  it('deleted: several entries removed', async () => {
    const log = buildLog(10);
    log.splice(3, 3);
    expect(await faultOf(log)).toEqual({ seq: 4n, kind: 'deleted' });
  });

  it('deleted: a gap just before the last entry', async () => {
    const log = buildLog(10);
    log.splice(8, 1);
    expect(await faultOf(log)).toEqual({ seq: 9n, kind: 'deleted' });
  });

  it('reordered: two neighbours swapped in the stream', async () => {
    const log = buildLog(10);
    [log[4], log[5]] = [at(log, 6), at(log, 5)];
    expect(await faultOf(log)).toEqual({ seq: 5n, kind: 'reordered' });
  });

  it('reordered: an old entry repeated at the end', async () => {
    const log = buildLog(10);
    log.push(at(log, 3));
    expect(await faultOf(log)).toEqual({ seq: 3n, kind: 'reordered' });
  });

  it('inserted: a second entry with the same seq', async () => {
    const log = buildLog(10);
    const forged = store({ ...at(log, 5), action: 'forged.action' });
    log.splice(5, 0, forged);
    expect(await faultOf(log)).toEqual({ seq: 5n, kind: 'inserted' });
  });

  it('inserted: forged entry with later entries renumbered', async () => {
    const log = buildLog(10);
    const forged = store({ ...entryFields(5n, at(log, 4).entryHash), action: 'forged.action' });
    // The attacker renumbers every later entry and recomputes its stored hash, but cannot
    // change the previousHash it was written with without breaking the next link.
    const shifted = log
      .slice(4)
      .map((entry) => store({ ...entry, seq: String(Number(entry.seq) + 1) }));
    const tampered = [...log.slice(0, 4), forged, ...shifted];
    expect(await faultOf(tampered)).toEqual({ seq: 5n, kind: 'inserted' });
  });

  it('inserted: a forged first entry', async () => {
    const log = buildLog(5);
    const forged = store({ ...entryFields(1n, null), action: 'forged.action' });
    const shifted = log.map((entry) => store({ ...entry, seq: String(Number(entry.seq) + 1) }));
    expect(await faultOf([forged, ...shifted])).toEqual({ seq: 1n, kind: 'inserted' });
  });

  it('malformed: a timestamp without microseconds', async () => {
    const log = buildLog(5);
    log[2] = { ...at(log, 3), timestamp: '2026-12-04T15:41:03.000Z' };
    expect(await faultOf(log)).toEqual({ seq: 3n, kind: 'malformed' });
  });

  it('malformed: an uppercase stored hash', async () => {
    const log = buildLog(5);
    log[2] = { ...at(log, 3), entryHash: at(log, 3).entryHash.toUpperCase() };
    expect(await faultOf(log)).toEqual({ seq: 3n, kind: 'malformed' });
  });

  it('malformed: a seq that is not a decimal string', async () => {
    const log = buildLog(5);
    log[2] = { ...at(log, 3), seq: 'three' };
    expect(await faultOf(log)).toEqual({ seq: 3n, kind: 'malformed' });
  });

  it('malformed: a row that is not an object', async () => {
    const log: unknown[] = buildLog(3);
    log[1] = null;
    expect(await faultOf(log as StoredAuditEntry[])).toEqual({ seq: 2n, kind: 'malformed' });
  });

  it('wrong_log: an entry of another log', async () => {
    const log = buildLog(5);
    log[3] = store({ ...at(log, 4), logId: 'other.example/log' });
    expect(await faultOf(log)).toEqual({ seq: 4n, kind: 'wrong_log' });
  });

  it('wrong_log: the first entry differs from the expected logId', async () => {
    expect(await faultOf(buildLog(3), { logId: 'other.example/log' })).toEqual({
      seq: 1n,
      kind: 'wrong_log',
    });
  });

  it('truncated: the last entries removed', async () => {
    const log = buildLog(10);
    const checkpoint = { treeSize: 10, rootHash: rootOf(log) };
    expect(await faultOf(log.slice(0, 8), { checkpoint })).toEqual({ seq: 9n, kind: 'truncated' });
  });

  it('truncated: every entry removed', async () => {
    const log = buildLog(4);
    const checkpoint = { treeSize: 4, rootHash: rootOf(log) };
    expect(await faultOf([], { checkpoint })).toEqual({ seq: 1n, kind: 'truncated' });
  });

  it('checkpoint_mismatch: a forged checkpoint root', async () => {
    const log = buildLog(10);
    const rootHash = rootOf(log);
    rootHash[0] = (rootHash[0] as number) ^ 1;
    const checkpoint = { treeSize: 10, rootHash };
    expect(await faultOf(log, { checkpoint })).toEqual({ seq: 10n, kind: 'checkpoint_mismatch' });
  });

  it('checkpoint_mismatch: a forged empty checkpoint', async () => {
    const checkpoint = { treeSize: 0, rootHash: new Uint8Array(32) };
    expect(await faultOf([], { checkpoint })).toEqual({ seq: 1n, kind: 'checkpoint_mismatch' });
  });

  it('checkpoint_mismatch: the whole log rewritten consistently', async () => {
    const original = buildLog(10);
    const checkpoint = { treeSize: 10, rootHash: rootOf(original) };
    // Rewriting entry 3 and recomputing every later hash and link keeps the chain intact, and
    // only the signed root shows it.
    const rewritten: StoredAuditEntry[] = [];
    let previousHash: string | null = null;
    for (const entry of original) {
      const action = entry.seq === '3' ? 'forged.action' : entry.action;
      const stored = store({ ...entry, action, previousHash });
      rewritten.push(stored);
      previousHash = stored.entryHash;
    }
    expect(await faultOf(rewritten)).toBeNull();
    expect(await faultOf(rewritten, { checkpoint })).toEqual({
      seq: 10n,
      kind: 'checkpoint_mismatch',
    });
  });
});

describe('ChainVerifier', () => {
  it('keeps returning the first fault', () => {
    const log = buildLog(6);
    log[2] = { ...at(log, 3), action: 'changed' };
    const verifier = new ChainVerifier();
    const faults = log.map((entry) => verifier.push(entry));
    expect(faults.slice(0, 2)).toEqual([null, null]);
    expect(faults[2]).toMatchObject({ seq: 3n, kind: 'edited' });
    expect(faults[5]).toBe(faults[2]);
    expect(verifier.verifiedEntries).toBe(2);
    expect(verifier.finish()).toMatchObject({ ok: false, verifiedEntries: 2 });
  });

  it('decides a gap only when the next entry arrives', () => {
    const log = buildLog(4);
    const verifier = new ChainVerifier();
    expect(verifier.push(at(log, 1))).toBeNull();
    expect(verifier.push(at(log, 3))).toBeNull();
    expect(verifier.push(at(log, 2))).toMatchObject({ seq: 2n, kind: 'reordered' });
  });

  it('reports a detail for each fault', async () => {
    const log = buildLog(5);
    log.splice(2, 1);
    const result = await verifyChain(log);
    expect(result.ok ? '' : result.fault.detail).toBe('seq 3 is missing');
  });
});
