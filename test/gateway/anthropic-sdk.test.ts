import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PROVIDER_KEYS, startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let client: Anthropic;

beforeAll(async () => {
  t = await startTestServer();
  client = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
});

afterAll(async () => {
  await t.stop();
});

const ask = { role: 'user' as const, content: 'Say hello' };

describe('Anthropic SDK through the gateway', () => {
  it('messages.create returns the upstream answer', async () => {
    const message = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [ask],
    });
    expect(message.content[0]).toEqual({ type: 'text', text: 'Hello from the fake provider' });
    expect(message.usage.input_tokens).toBe(12);
  });

  it('messages.stream relays every event', async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [ask],
    });
    const deltas: string[] = [];
    stream.on('text', (text) => deltas.push(text));
    const final = await stream.finalMessage();
    expect(deltas.join('')).toBe('Hello from the fake provider');
    expect(final.usage.output_tokens).toBe(5);
  });

  it('upstream receives the provider key, never the client key', async () => {
    const before = t.fake.received.length;
    await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [ask] });
    const upstream = t.fake.received[before];
    expect(upstream?.headers['x-api-key']).toBe(PROVIDER_KEYS.anthropic);
    expect(JSON.stringify(upstream?.headers)).not.toContain(t.boot.apiKey);
    expect(upstream?.headers.authorization).toBeUndefined();
  });

  it('wrong key raises AuthenticationError', async () => {
    const wrong = new Anthropic({
      apiKey: `mw_live_${'A'.repeat(43)}`,
      baseURL: t.url,
      maxRetries: 0,
    });
    const error = await wrong.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(401);
  });

  it('model outside the allowlist raises PermissionDeniedError', async () => {
    const error = await client.messages
      .create({ model: 'claude-opus-4-1', max_tokens: 10, messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(403);
  });

  it('max_tokens 5000 raises BadRequestError', async () => {
    const error = await client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 5000, messages: [ask] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String((error as Error).message)).toContain('max_tokens');
  });

  it('101 messages raise BadRequestError', async () => {
    const messages = Array.from({ length: 101 }, (_, i) => ({
      role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
      content: `turn ${i}`,
    }));
    const error = await client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String((error as Error).message)).toContain('messages');
  });

  it('models.list shows the allowed models with their snapshots', async () => {
    const page = await client.models.list();
    expect(page.data.map((model) => model.id)).toEqual([
      'claude-sonnet-4-5',
      'claude-sonnet-4-5-20250929',
      'gpt-4o-mini',
      'gpt-4o-mini-2024-07-18',
    ]);
  });
});
