import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PROVIDER_KEYS, startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let client: OpenAI;

beforeAll(async () => {
  t = await startTestServer();
  client = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await t.stop();
});

const ask = { role: 'user' as const, content: 'Say hello' };

describe('OpenAI SDK through the gateway', () => {
  it('chat.completions.create returns the upstream answer', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [ask],
      max_tokens: 50,
    });
    expect(completion.choices[0]?.message.content).toBe('Hello from the fake provider');
    expect(completion.usage?.total_tokens).toBe(14);
  });

  it('stream: true relays every chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [ask],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usageTokens = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usageTokens = chunk.usage?.total_tokens ?? usageTokens;
    }
    expect(text).toBe('Hello from the fake provider');
    expect(usageTokens).toBe(14);
  });

  it('upstream receives the provider key as Bearer', async () => {
    const before = t.fake.received.length;
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [ask] });
    const upstream = t.fake.received[before];
    expect(upstream?.headers.authorization).toBe(`Bearer ${PROVIDER_KEYS.openai}`);
    expect(JSON.stringify(upstream?.headers)).not.toContain(t.boot.apiKey);
  });

  it('wrong key raises AuthenticationError', async () => {
    const wrong = new OpenAI({
      apiKey: 'sk-not-a-mindweave-key',
      baseURL: `${t.url}/v1`,
      maxRetries: 0,
    });
    const error = await wrong.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('model outside the allowlist raises PermissionDeniedError', async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('max_tokens 5000 raises BadRequestError', async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [ask], max_tokens: 5000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('101 messages raise BadRequestError', async () => {
    const messages = Array.from({ length: 101 }, () => ask);
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('a tool result for a call not in the conversation raises PermissionDeniedError', async () => {
    const error = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [ask, { role: 'tool', content: 'x', tool_call_id: 'call_1' }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as { code?: string }).code).toBe('tool_call_not_approved');
  });

  it('models.list shows the allowed models with their snapshots', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual([
      'claude-sonnet-4-5',
      'claude-sonnet-4-5-20250929',
      'gpt-4o-mini',
      'gpt-4o-mini-2024-07-18',
    ]);
  });
});
