import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ env: { UPSTREAM_TIMEOUT_MS: '1000' } });
});

afterEach(() => {
  t.fake.behavior = { kind: 'normal' };
});

afterAll(async () => {
  await t.stop();
});

const anthropic = () => new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
type AnthropicError = InstanceType<typeof Anthropic.APIError>;

/** Makes a call that is expected to fail and returns the SDK's error. */
const call = (): Promise<AnthropicError> =>
  anthropic()
    .messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    })
    .then(
      () => {
        throw new Error('expected the call to fail');
      },
      (e: unknown) => e as AnthropicError,
    );

describe('upstream failures', () => {
  it('slow provider gives 504', async () => {
    t.fake.behavior = { kind: 'delay', ms: 2500 };
    const error = await call();
    expect(error.status).toBe(504);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
  });

  it('provider 429 passes through with retry-after', async () => {
    t.fake.behavior = {
      kind: 'status',
      status: 429,
      body: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } },
    };
    const response = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': t.boot.apiKey,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(response.status).toBe(429);
    const error = await call();
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('provider rejecting the provider key gives 502, not 401', async () => {
    t.fake.behavior = {
      kind: 'status',
      status: 401,
      body: {
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid x-api-key' },
      },
    };
    const error = await call();
    expect(error.status).toBe(502);
    expect(error.message).toContain('provider credentials');
  });

  it('unreachable provider gives 502 in the OpenAI shape', async () => {
    await t.fake.stop();
    try {
      const client = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
      const error = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => {
            throw new Error('expected the call to fail');
          },
          (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
        );
      expect(error.status).toBe(502);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error.error as { message?: string }).message).toContain('could not be reached');
    } finally {
      await t.fake.start();
    }
  });
});
