import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
const WRONG_KEY = `mw_live_${'x'.repeat(43)}`;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

async function modelsError(headers: Record<string, string>): Promise<ErrorBody> {
  const response = await fetch(`${t.url}/v1/models`, { headers });
  expect(response.status).toBe(401);
  return (await response.json()) as ErrorBody;
}

interface ErrorBody {
  type?: unknown;
  error?: { type?: unknown; message?: unknown; param?: unknown; code?: unknown };
}

function expectAnthropicShape(body: ErrorBody): void {
  expect(body.type).toBe('error');
  expect(body.error?.type).toBe('authentication_error');
  expect(typeof body.error?.message).toBe('string');
}

function expectOpenAIShape(body: ErrorBody): void {
  expect(body.type).toBeUndefined();
  expect(body.error?.type).toBe('invalid_request_error');
  expect(typeof body.error?.message).toBe('string');
  expect(body.error?.param).toBeNull();
}

describe('GET /v1/models with a wrong key', () => {
  it('answers x-api-key without other hints in the Anthropic shape', async () => {
    expectAnthropicShape(await modelsError({ 'x-api-key': WRONG_KEY }));
  });

  it('answers a bearer key in the OpenAI shape', async () => {
    expectOpenAIShape(await modelsError({ authorization: `Bearer ${WRONG_KEY}` }));
  });

  it('follows anthropic-version over the key header', async () => {
    const body = await modelsError({
      authorization: `Bearer ${WRONG_KEY}`,
      'anthropic-version': '2023-06-01',
    });
    expectAnthropicShape(body);
  });

  it('raises each SDK its own authentication error', async () => {
    const anthropic = new Anthropic({ apiKey: WRONG_KEY, baseURL: t.url, maxRetries: 0 });
    await expect(anthropic.models.list()).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const openai = new OpenAI({ apiKey: WRONG_KEY, baseURL: `${t.url}/v1`, maxRetries: 0 });
    await expect(openai.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
