import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, ownerSession } from '../admin/admin-api.js';
import { postGateway } from '../support/gateway-request.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const tools = [
  { name: 'get_weather', input_schema: { type: 'object' } },
  { name: 'delete_db', input_schema: { type: 'object' } },
];

/** Builds an Anthropic request whose history shows a call of `name` as `id` and its result. */
function anthropicHistory(id: string, name: string) {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 10,
    tools,
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id, name, input: { all: true } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'done' }] },
    ],
  };
}

/** Builds the same history in the OpenAI shape. */
function openaiHistory(id: string, name: string) {
  return {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id, type: 'function', function: { name, arguments: '{"all":true}' } }],
      },
      { role: 'tool', tool_call_id: id, content: 'done' },
    ],
  };
}

describe('tool results under another tool name', () => {
  let t: TestServer;
  let owner: string;
  let projectPath: string;

  const gateway = (path: string, body: unknown) => postGateway(t, path, body);

  async function setAutoApprove(mcpAutoApprove: string[]): Promise<void> {
    const response = await api(t, 'PATCH', projectPath, {
      token: owner,
      body: { settings: { mcpAutoApprove } },
    });
    expect(response.status).toBe(200);
    // The gateway caches a key's grant, project policy included, for at most one second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }

  /** Has the fake model call delete_db as `id`, which the gateway holds for approval. */
  async function heldDeleteCall(id: string, path: string, body: unknown): Promise<void> {
    t.fake.behavior = { kind: 'tool-call', call: { id, name: 'delete_db', input: { all: true } } };
    const turn = await gateway(path, body);
    t.fake.behavior = { kind: 'normal' };
    expect(turn.status).toBe(200);
  }

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    projectPath = `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}`;
    await setAutoApprove(['get_weather']);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('rejects a held Anthropic call renamed', async () => {
    await heldDeleteCall('toolu_rename1', '/v1/messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      tools,
      messages: [{ role: 'user', content: 'go' }],
    });
    const honest = await gateway('/v1/messages', anthropicHistory('toolu_rename1', 'delete_db'));
    expect(honest.status).toBe(403);
    const renamed = await gateway('/v1/messages', anthropicHistory('toolu_rename1', 'get_weather'));
    expect(renamed.status).toBe(403);
    expect(renamed.text).toContain('differs from the call that was held');
  });

  it('rejects a held OpenAI call renamed', async () => {
    await heldDeleteCall('call_rename2', '/v1/chat/completions', {
      model: 'gpt-4o-mini',
      tools: [{ type: 'function', function: { name: 'delete_db', parameters: {} } }],
      messages: [{ role: 'user', content: 'go' }],
    });
    const renamed = await gateway(
      '/v1/chat/completions',
      openaiHistory('call_rename2', 'get_weather'),
    );
    expect(renamed.status).toBe(403);
  });

  it('auto-approved results still pass', async () => {
    const fresh = await gateway('/v1/messages', anthropicHistory('toolu_fresh3', 'get_weather'));
    expect(fresh.status).toBe(200);
    const openai = await gateway(
      '/v1/chat/completions',
      openaiHistory('call_fresh4', 'get_weather'),
    );
    expect(openai.status).toBe(200);
  });

  it('held call passes once its tool is auto-approved', async () => {
    await setAutoApprove(['get_weather', 'delete_db']);
    const held = await gateway('/v1/messages', anthropicHistory('toolu_rename1', 'delete_db'));
    expect(held.status).toBe(200);
  });
});
