import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, ownerSession } from '../admin/admin-api.js';
import { postGateway } from '../support/gateway-request.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

describe('tool gate on unusual request shapes', () => {
  let t: TestServer;
  let owner: string;
  let projectPath: string;

  const gateway = (path: string, body: unknown) => postGateway(t, path, body);

  async function setAutoApprove(mcpAutoApprove: boolean | string[]): Promise<void> {
    const response = await api(t, 'PATCH', projectPath, {
      token: owner,
      body: { settings: { mcpAutoApprove } },
    });
    expect(response.status).toBe(200);
    // The gateway caches a key's grant, project policy included, for at most one second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }

  const withServerTool = (name: string) => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 10,
    tools: [{ type: 'web_fetch_20250910', name }],
    messages: [{ role: 'user', content: 'fetch the internal wiki' }],
  });

  beforeAll(async () => {
    t = await startTestServer();
    owner = await ownerSession(t);
    projectPath = `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}`;
    await setAutoApprove(['get_weather']);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('rejects server tools not auto-approved', async () => {
    const sent = t.fake.received.length;
    const response = await gateway('/v1/messages', withServerTool('web_fetch'));
    expect(response.status).toBe(403);
    expect(response.text).toContain('web_fetch');
    expect(t.fake.received.length).toBe(sent);
  });

  it('rejects non-string Anthropic result ids', async () => {
    const response = await gateway('/v1/messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: { id: 1 }, content: 'x' }] },
      ],
    });
    expect(response.status).toBe(403);
  });

  it('rejects non-string OpenAI result ids', async () => {
    const response = await gateway('/v1/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'tool', tool_call_id: 5, content: 'x' }],
    });
    expect(response.status).toBe(403);
  });

  it('passes auto-approved server tools', async () => {
    await setAutoApprove(['get_weather', 'web_fetch']);
    const response = await gateway('/v1/messages', withServerTool('web_fetch'));
    expect(response.status).toBe(200);
  });
});
