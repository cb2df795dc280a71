import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  const anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
  const openai = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'secret prompt text 4711' }];
  await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 20, messages });
  await anthropic.messages
    .stream({ model: 'claude-sonnet-4-5', max_tokens: 20, messages })
    .finalMessage();
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
  await anthropic.messages
    .create({ model: 'not-allowed', max_tokens: 20, messages })
    .catch(() => null);
  // The recorder writes in batches; flushing makes the rows visible now.
  await t.server.usage.flush();
});

afterAll(async () => {
  await t.stop();
});

async function waitForRows<R>(sql: string, count: number): Promise<R[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { rows } = await t.owner.query<R>(sql);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('gateway call records', () => {
  it('store project, key, model, status, tokens and latency', async () => {
    const rows = await waitForRows<Record<string, unknown>>(
      `SELECT project_id, api_key_id, provider, model, status, streamed, input_tokens,
              output_tokens, latency_ms FROM gateway_requests ORDER BY created_at`,
      3,
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      project_id: t.boot.projectId,
      api_key_id: t.boot.apiKeyId,
      provider: 'anthropic',
      // The record names the snapshot that was called, not the alias the client sent.
      model: 'claude-sonnet-4-5-20250929',
      status: 200,
      streamed: false,
      input_tokens: 12,
      output_tokens: 5,
    });
    expect(rows[1]).toMatchObject({ streamed: true, input_tokens: 12, output_tokens: 5 });
    expect(rows[2]).toMatchObject({ provider: 'openai', input_tokens: 9, output_tokens: 5 });
    for (const row of rows) expect(typeof row.latency_ms).toBe('number');
  });

  it('write an audit entry per call with the masked key', async () => {
    const rows = await waitForRows<{
      actor_type: string;
      actor_id: string;
      metadata: Record<string, unknown>;
    }>(
      "SELECT actor_type, actor_id, metadata FROM audit_logs WHERE action = 'gateway.request' ORDER BY timestamp",
      3,
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]?.actor_type).toBe('api_key');
    expect(rows[0]?.actor_id).toBe(t.boot.apiKeyId);
    expect(rows[0]?.metadata.key).toBe(`mw_live_…${t.boot.apiKey.slice(-4)}`);
  });

  it('never store or log the prompt or the full key', async () => {
    const { rows } = await t.owner.query<{ dump: string }>(
      'SELECT (SELECT json_agg(a)::text FROM audit_logs a) || (SELECT json_agg(g)::text FROM gateway_requests g) AS dump',
    );
    const dump = rows[0]?.dump ?? '';
    expect(dump).not.toContain('secret prompt text 4711');
    expect(dump).not.toContain(t.boot.apiKey);
    const logs = t.logLines.join('\n');
    expect(logs).not.toContain('secret prompt text 4711');
    expect(logs).not.toContain(t.boot.apiKey);
  });

  it('log one line per request with request id, project, status and latency', () => {
    const lines = t.logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request completed' && line.route === '/v1/messages');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatchObject({ projectId: t.boot.projectId, status: 200 });
    expect(typeof lines[0]?.requestId).toBe('string');
    expect(typeof lines[0]?.latencyMs).toBe('number');
  });

  it('update the key last-used time', async () => {
    const rows = await waitForRows<{ last_used_at: Date | null }>(
      'SELECT last_used_at FROM api_keys WHERE last_used_at IS NOT NULL',
      1,
    );
    expect(rows[0]?.last_used_at).toBeInstanceOf(Date);
  });
});
