import Anthropic from '@anthropic-ai/sdk';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { StoredAuditEntry } from '../../../src/monitoring/audit/chain-verifier.js';
import { entryLeafHash } from '../../../src/monitoring/audit/entry-hash.js';
import { verifyConsistency, verifyInclusion } from '../../../src/monitoring/audit/merkle.js';
import { ownerSession } from '../../support/admin-session.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let t: TestServer;
let token: string;

const get = async (path: string) => {
  const response = await fetch(`${t.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
};
const getJson = async <T>(path: string) => {
  const { status, text } = await get(path);
  return { status, body: JSON.parse(text) as T };
};

beforeAll(async () => {
  t = await startTestServer();
  token = await ownerSession(t);
  const client = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
  for (let i = 0; i < 3; i++) {
    await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    });
  }
  await t.server.usage.flush();
});

afterAll(async () => {
  await t.stop();
});

interface EntryView {
  seq: number;
  action: string;
  actor: { email: string | null; ip: string | null };
  newValues: Record<string, unknown> | null;
}

describe('audit API', () => {
  it('lists the organization entries newest first with personal fields opened', async () => {
    const { status, body } = await getJson<{ data: EntryView[]; nextCursor: string | null }>(
      `/api/v1/organizations/${t.boot.orgId}/audit`,
    );
    expect(status).toBe(200);
    const actions = body.data.map((entry) => entry.action);
    expect(actions).toContain('gateway.request');
    expect(actions).toContain('project.create');
    const seqs = body.data.map((entry) => entry.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const created = body.data.find((entry) => entry.action === 'user.create');
    expect(created?.newValues?.email).toBe(t.boot.adminEmail);
    const call = body.data.find((entry) => entry.action === 'gateway.request');
    expect(call?.actor.ip).toBe('127.0.0.1');
  });

  it('stores personal fields sealed, never in plaintext', async () => {
    const { rows } = await t.owner.query<{ dump: string }>(
      'SELECT json_agg(a)::text AS dump FROM audit_logs a',
    );
    expect(rows[0]?.dump).not.toContain(t.boot.adminEmail);
    expect(rows[0]?.dump).not.toContain('127.0.0.1');
  });

  it('filters by action and pages with the cursor', async () => {
    const first = await getJson<{ data: EntryView[]; nextCursor: string | null }>(
      `/api/v1/organizations/${t.boot.orgId}/audit?action=gateway.request&limit=2`,
    );
    expect(first.body.data).toHaveLength(2);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await getJson<{ data: EntryView[]; nextCursor: string | null }>(
      `/api/v1/organizations/${t.boot.orgId}/audit?action=gateway.request&limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.data).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.data, ...second.body.data];
    expect(all.every((entry) => entry.action === 'gateway.request')).toBe(true);
  });

  it('rejects bad filters with field details', async () => {
    const { status, body } = await getJson<{ code: string; details: { field: string }[] }>(
      `/api/v1/organizations/${t.boot.orgId}/audit?from=yesterday&limit=0&bogus=1`,
    );
    expect(status).toBe(400);
    expect(body.code).toBe('validation_failed');
    const fields = body.details.map((detail) => detail.field);
    expect(fields).toContain('from');
    expect(fields).toContain('limit');
  });

  it('requires a session', async () => {
    const response = await fetch(`${t.url}/api/v1/organizations/${t.boot.orgId}/audit`);
    expect(response.status).toBe(401);
  });

  it('exports entries with inclusion proofs that verify against the signed checkpoint', async () => {
    const { status, text } = await get(`/api/v1/organizations/${t.boot.orgId}/audit/export`);
    expect(status).toBe(200);
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const checkpoint = lines.at(-1) as {
      type: string;
      rootHash: string;
      treeSize: number;
      signedNote: string;
      verifierKey: string;
    };
    expect(checkpoint.type).toBe('checkpoint');
    const entries = lines.slice(0, -1) as {
      entry: StoredAuditEntry;
      leafIndex: number;
      inclusionProof: string[];
    }[];
    expect(entries.length).toBeGreaterThan(5);
    const root = Buffer.from(checkpoint.rootHash, 'hex');
    for (const line of entries) {
      const { entryHash: _stored, ...fields } = line.entry;
      const proof = line.inclusionProof.map((node) => Buffer.from(node, 'hex'));
      const check = verifyInclusion(
        entryLeafHash(fields),
        line.leafIndex,
        checkpoint.treeSize,
        proof,
        root,
      );
      expect(check).toEqual({ ok: true });
    }

    // The checkpoint signature, checked with an independent Ed25519 implementation.
    const [body, signatures] = checkpoint.signedNote.split('\n\n');
    const signatureLine = (signatures ?? '').split('\n')[0] ?? '';
    const signature = Buffer.from(signatureLine.split(' ').at(-1) ?? '', 'base64').subarray(4);
    const encodedKey = checkpoint.verifierKey.split('+').slice(2).join('+');
    const publicKey = Buffer.from(encodedKey, 'base64').subarray(1);
    expect(nacl.sign.detached.verify(Buffer.from(`${body}\n`), signature, publicKey)).toBe(true);
    expect(body?.split('\n')[2]).toBe(root.toString('base64'));
  });

  it('gives a consistency proof between two checkpoints', async () => {
    const older = await getJson<{ treeSize: number; rootHash: string }>(
      '/api/v1/audit/checkpoints/latest',
    );
    const client = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
    await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await t.server.usage.flush();
    await t.server.checkpointer.sign();
    const newer = await getJson<{ treeSize: number; rootHash: string }>(
      '/api/v1/audit/checkpoints/latest',
    );
    expect(newer.body.treeSize).toBeGreaterThan(older.body.treeSize);
    const { status, body } = await getJson<{ proof: string[] }>(
      `/api/v1/audit/proofs/consistency?from=${older.body.treeSize}&to=${newer.body.treeSize}`,
    );
    expect(status).toBe(200);
    const check = verifyConsistency(
      older.body.treeSize,
      newer.body.treeSize,
      body.proof.map((node) => Buffer.from(node, 'hex')),
      Buffer.from(older.body.rootHash, 'hex'),
      Buffer.from(newer.body.rootHash, 'hex'),
    );
    expect(check).toEqual({ ok: true });
  });

  it('answers 404 for another organization\u2019s entry proof', async () => {
    const other = '00000000-0000-4000-8000-000000000000';
    const { status } = await get(`/api/v1/organizations/${other}/audit/1/proof`);
    expect(status).toBe(404);
  });
});

describe('audit API input checks', () => {
  it('rejects NUL characters in filters', async () => {
    const { status, body } = await getJson<{ code: string; details: { field: string }[] }>(
      `/api/v1/organizations/${t.boot.orgId}/audit?action=%00&resourceType=a%00b`,
    );
    expect(status).toBe(400);
    expect(body.details.map((detail) => detail.field).sort()).toEqual(['action', 'resourceType']);
  });

  it('rejects consistency proofs that run backwards', async () => {
    const { status, body } = await getJson<{ code: string; details: { field: string }[] }>(
      '/api/v1/audit/proofs/consistency?from=5&to=2',
    );
    expect(status).toBe(400);
    expect(body.details[0]?.field).toBe('from');
  });

  it('rejects sizes beyond 15 digits', async () => {
    const { status } = await getJson('/api/v1/audit/proofs/consistency?from=1&to=9999999999999999');
    expect(status).toBe(400);
  });
});
