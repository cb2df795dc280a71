import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { api, auditRows, insertMember, login, ownerSession } from '../admin/admin-api.js';
import { inTenant } from '../../src/data/database/tenant-scope.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let owner: string;
let anthropic: Anthropic;
let openai: OpenAI;

const projectPath = () => `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}`;

const weather = { type: 'object', properties: { city: { type: 'string' } } } as const;
const anthropicTools = [{ name: 'get_weather', description: 'Weather', input_schema: weather }];
const openaiTools = [
  { type: 'function' as const, function: { name: 'get_weather', parameters: weather } },
];

let policy: string | undefined;

async function setPolicy(mcpAutoApprove: boolean | string[]): Promise<void> {
  if (policy === JSON.stringify(mcpAutoApprove)) return;
  const response = await api(t, 'PATCH', projectPath(), {
    token: owner,
    body: { settings: { mcpAutoApprove } },
  });
  expect(response.status).toBe(200);
  policy = JSON.stringify(mcpAutoApprove);
  // The gateway caches a key's grant, project policy included, for at most one second.
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

async function pendingCalls(): Promise<Record<string, unknown>[]> {
  const response = await api(t, 'GET', `${projectPath()}/tool-calls?status=pending`, {
    token: owner,
  });
  expect(response.status).toBe(200);
  return response.body.data as Record<string, unknown>[];
}

async function decide(toolCallId: string, verb: 'approve' | 'deny', token = owner) {
  const pending = await pendingCalls();
  const row = pending.find((call) => call.toolCallId === toolCallId);
  expect(row).toBeDefined();
  return api(t, 'POST', `${projectPath()}/tool-calls/${String(row?.id)}/${verb}`, {
    token,
    body: { reason: `${verb} in test` },
  });
}

/** Asks for the weather, and the fake model replies with a call of get_weather. */
async function anthropicToolTurn(id: string, input: Record<string, unknown>) {
  t.fake.behavior = { kind: 'tool-call', call: { id, name: 'get_weather', input } };
  const { data, response } = await anthropic.messages
    .create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools: anthropicTools,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    })
    .withResponse();
  t.fake.behavior = { kind: 'normal' };
  return { message: data, headers: response.headers };
}

/** Sends the next turn: the conversation so far plus the tool's result. */
function anthropicFollowUp(id: string, input: Record<string, unknown>) {
  return anthropic.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 100,
    tools: anthropicTools,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [{ type: 'tool_use', id, name: 'get_weather', input }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'Sunny' }] },
    ],
  });
}

beforeAll(async () => {
  t = await startTestServer();
  owner = await ownerSession(t);
  anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await t.stop();
});

beforeEach(async () => {
  t.fake.behavior = { kind: 'normal' };
  await setPolicy(false);
});

describe('tool calls held for approval (Anthropic)', () => {
  it('holds a call until approved', async () => {
    const input = { city: 'Paris' };
    const turn = await anthropicToolTurn('toolu_approve_1', input);
    expect(turn.message.content[1]).toMatchObject({ type: 'tool_use', id: 'toolu_approve_1' });
    expect(turn.headers.get('x-mindweave-tool-approval')).toBe('required');
    expect(turn.headers.get('x-mindweave-pending-tool-calls')).toBe('toolu_approve_1');

    const rejected = await anthropicFollowUp('toolu_approve_1', input).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((rejected as Error).message).toContain('waiting for approval');

    const approved = await decide('toolu_approve_1', 'approve');
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', toolName: 'get_weather' });

    const before = t.fake.received.length;
    const answer = await anthropicFollowUp('toolu_approve_1', input);
    expect(answer.content[0]).toMatchObject({ type: 'text' });
    expect(t.fake.received.length).toBe(before + 1);

    const audit = await inTenant(t.server.db, t.boot.orgId, (tx) =>
      auditRows(tx, 'tool_call.approve'),
    );
    expect(audit.at(-1)).toMatchObject({ project_id: t.boot.projectId });
  });

  it('rejects a denied call result', async () => {
    await anthropicToolTurn('toolu_deny_1', { city: 'Oslo' });
    expect((await decide('toolu_deny_1', 'deny')).status).toBe(200);
    const rejected = await anthropicFollowUp('toolu_deny_1', { city: 'Oslo' }).catch(
      (e: unknown) => e,
    );
    expect(rejected).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((rejected as Error).message).toContain('was denied');
  });

  it('rejects changed call arguments', async () => {
    await anthropicToolTurn('toolu_args_1', { city: 'Rome' });
    expect((await decide('toolu_args_1', 'approve')).status).toBe(200);
    const changed = await anthropicFollowUp('toolu_args_1', { city: 'Rome; rm -rf /' }).catch(
      (e: unknown) => e,
    );
    expect(changed).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((changed as Error).message).toContain('differs from the call');
  });

  it('rejects results of unknown calls', async () => {
    const invented = await anthropicFollowUp('toolu_invented', { city: 'Lima' }).catch(
      (e: unknown) => e,
    );
    expect(invented).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((invented as Error).message).toContain('never held for approval');

    const orphan = await anthropic.messages
      .create({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'ok' }],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(orphan).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((orphan as Error).message).toContain('not in this conversation');
  });

  it('holds a streamed call', async () => {
    t.fake.behavior = {
      kind: 'tool-call',
      call: { id: 'toolu_stream_1', name: 'get_weather', input: { city: 'Kyoto' } },
    };
    const stream = anthropic.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools: anthropicTools,
      messages: [{ role: 'user', content: 'Weather in Kyoto?' }],
    });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'tool_use', input: { city: 'Kyoto' } });
    expect((await pendingCalls()).map((call) => call.toolCallId)).toContain('toolu_stream_1');
    expect((await decide('toolu_stream_1', 'approve')).status).toBe(200);
    await expect(anthropicFollowUp('toolu_stream_1', { city: 'Kyoto' })).resolves.toBeDefined();
  });

  it('passes auto-approved tools', async () => {
    await setPolicy(['get_weather']);
    const turn = await anthropicToolTurn('toolu_auto_1', { city: 'Cairo' });
    expect(turn.headers.get('x-mindweave-pending-tool-calls')).toBeNull();
    await expect(anthropicFollowUp('toolu_auto_1', { city: 'Cairo' })).resolves.toBeDefined();
    expect((await pendingCalls()).map((call) => call.toolCallId)).not.toContain('toolu_auto_1');

    await setPolicy(true);
    const all = await anthropicToolTurn('toolu_auto_2', { city: 'Lagos' });
    expect(all.headers.get('x-mindweave-tool-approval')).toBeNull();
    await expect(anthropicFollowUp('toolu_auto_2', { city: 'Lagos' })).resolves.toBeDefined();
  });

  it('restricts remote MCP servers', async () => {
    const withServer = (allowed?: string[]) =>
      anthropic.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Search the repo' }],
        // The MCP connector is a beta field, sent as given.
        ...({
          mcp_servers: [
            {
              type: 'url',
              url: 'https://mcp.example.com/sse',
              name: 'repo',
              ...(allowed ? { tool_configuration: { allowed_tools: allowed } } : {}),
            },
          ],
        } as Record<string, unknown>),
      });
    await setPolicy(['search']);
    const open = await withServer().catch((e: unknown) => e);
    expect(open).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((open as Error).message).toContain('repo');
    const wider = await withServer(['search', 'delete_branch']).catch((e: unknown) => e);
    expect(wider).toBeInstanceOf(Anthropic.PermissionDeniedError);
    await expect(withServer(['search'])).resolves.toBeDefined();
  });
});

describe('tool calls held for approval (OpenAI)', () => {
  const followUp = (id: string, args: string) =>
    openai.chat.completions.create({
      model: 'gpt-4o-mini',
      tools: openaiTools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id, type: 'function', function: { name: 'get_weather', arguments: args } },
          ],
        },
        { role: 'tool', tool_call_id: id, content: 'Sunny' },
      ],
    });

  it('holds a streamed call until approved', async () => {
    t.fake.behavior = {
      kind: 'tool-call',
      call: { id: 'call_stream_1', name: 'get_weather', input: { city: 'Paris' } },
    };
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      tools: openaiTools,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    let args = '';
    for await (const chunk of stream) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    }
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });

    const rejected = await followUp('call_stream_1', args).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((rejected as { code?: string }).code).toBe('tool_call_not_approved');

    expect((await decide('call_stream_1', 'approve')).status).toBe(200);
    // Whitespace in the arguments JSON does not change the call.
    await expect(followUp('call_stream_1', '{ "city": "Paris" }')).resolves.toBeDefined();
  });

  it('reports a held call in a header', async () => {
    t.fake.behavior = {
      kind: 'tool-call',
      call: { id: 'call_plain_1', name: 'get_weather', input: { city: 'Bern' } },
    };
    const { response } = await openai.chat.completions
      .create({
        model: 'gpt-4o-mini',
        tools: openaiTools,
        messages: [{ role: 'user', content: 'Weather in Bern?' }],
      })
      .withResponse();
    expect(response.headers.get('x-mindweave-pending-tool-calls')).toBe('call_plain_1');
    const rejected = await followUp('call_plain_1', '{"city":"Bern"}').catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('rejects the legacy function role', async () => {
    const legacy = await openai.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'function', name: 'get_weather', content: 'Sunny' },
        ],
      })
      .catch((e: unknown) => e);
    expect(legacy).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('tool-call decisions', () => {
  it('are final, validated and scoped', async () => {
    await anthropicToolTurn('toolu_final_1', { city: 'Quito' });
    const [row] = (await pendingCalls()).filter((call) => call.toolCallId === 'toolu_final_1');
    const path = `${projectPath()}/tool-calls/${String(row?.id)}`;

    const viewer = 'viewer.tools@example.com';
    await inTenant(t.server.db, t.boot.orgId, (tx) =>
      insertMember(tx, t.boot.orgId, 'viewer', viewer, 'Viewer-Passw0rd!2026'),
    );
    const viewerToken = await login(t, viewer, 'Viewer-Passw0rd!2026');
    expect((await api(t, 'POST', `${path}/approve`, { token: viewerToken })).status).toBe(403);

    const unknownField = await api(t, 'POST', `${path}/approve`, {
      token: owner,
      body: { reason: 'ok', status: 'approved' },
    });
    expect(unknownField.status).toBe(400);

    const badQuery = await api(t, 'GET', `${projectPath()}/tool-calls?status=maybe&limit=0`, {
      token: owner,
    });
    expect(badQuery.status).toBe(400);
    const fields = (badQuery.body.details as { field: string }[]).map((issue) => issue.field);
    expect(fields).toEqual(expect.arrayContaining(['status', 'limit']));

    expect((await api(t, 'POST', `${path}/approve`, { token: owner })).status).toBe(200);
    const again = await api(t, 'POST', `${path}/deny`, { token: owner });
    expect(again.status).toBe(409);

    const otherProject = `/api/v1/organizations/${t.boot.orgId}/projects/${crypto.randomUUID()}`;
    const missing = await api(t, 'POST', `${otherProject}/tool-calls/${String(row?.id)}/deny`, {
      token: owner,
    });
    expect(missing.status).toBe(404);
    const notUuid = await api(t, 'POST', `${projectPath()}/tool-calls/not-a-uuid/deny`, {
      token: owner,
    });
    expect(notUuid.status).toBe(404);
  });
});
