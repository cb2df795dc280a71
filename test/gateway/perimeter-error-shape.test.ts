import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

const ATTACK_QUERY = { q: "1' UNION SELECT password FROM users--" };
const messages = [{ role: 'user' as const, content: 'hello' }];

describe('perimeter errors on gateway routes', () => {
  it('raise the Anthropic SDK its permission error for a WAF block', async () => {
    const anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
    const failure: unknown = await anthropic.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 5, messages }, { query: ATTACK_QUERY })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const { error } = failure as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect(error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  });

  it('raise the OpenAI SDK its permission error for a WAF block', async () => {
    const openai = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const failure: unknown = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages }, { query: ATTACK_QUERY })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((failure as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('waf_blocked');
  });

  it.each([
    ['/v1/messages', { type: 'error', error: { type: 'invalid_request_error' } }],
    ['/v1/chat/completions', { error: { type: 'invalid_request_error' } }],
  ])('answer a body of the wrong media type on %s as an invalid request', async (path, shape) => {
    const response = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': t.boot.apiKey, 'content-type': 'application/xml' },
      body: '<hello/>',
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject(shape);
  });
});
