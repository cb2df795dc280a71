import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, ownerSession } from '../admin/admin-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let owner: string;
let client: OpenAI;

async function allow(models: string[]): Promise<void> {
  const response = await api(
    t,
    'PATCH',
    `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}`,
    { token: owner, body: { settings: { allowedModels: models } } },
  );
  expect(response.status).toBe(200);
  // The gateway caches a key's grant, project policy included, for at most one second.
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

async function listed(): Promise<string[]> {
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  return ids;
}

/** Calls with `model`; returns the model the provider received, or the client's error. */
async function call(model: string): Promise<string | Error> {
  const before = t.fake.received.length;
  try {
    await client.chat.completions.create({
      model,
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    });
  } catch (error) {
    return error as Error;
  }
  return String(t.fake.received[before]?.body.model);
}

beforeAll(async () => {
  t = await startTestServer();
  owner = await ownerSession(t);
  client = new OpenAI({ apiKey: t.boot.apiKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await t.stop();
});

describe('model aliases', () => {
  it('forwards the snapshot of an alias', async () => {
    await allow(['gpt-4o']);
    expect(await call('gpt-4o')).toBe('gpt-4o-2024-08-06');
    expect(await call('gpt-4o-2024-08-06')).toBe('gpt-4o-2024-08-06');
  });

  it('accepts an alias of a listed snapshot', async () => {
    await allow(['gpt-4o-2024-08-06']);
    expect(await call('gpt-4o')).toBe('gpt-4o-2024-08-06');
  });

  it('rejects an alias of another snapshot', async () => {
    await allow(['gpt-4o-2024-05-13']);
    const rejected = await call('gpt-4o');
    expect(rejected).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((rejected as { code?: string }).code).toBe('model_not_allowed');
    expect(await call('gpt-4o-2024-05-13')).toBe('gpt-4o-2024-05-13');
  });

  it('rejects case and spacing variants', async () => {
    await allow(['gpt-4o']);
    expect(await call('GPT-4o')).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(await call(' gpt-4o')).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('lists exactly the accepted names', async () => {
    await allow(['gpt-4o', 'claude-sonnet-4-5-20250929', 'my-finetune:v1']);
    const names = await listed();
    expect(names).toEqual([
      'claude-sonnet-4-5',
      'claude-sonnet-4-5-20250929',
      'gpt-4o',
      'gpt-4o-2024-08-06',
      'my-finetune:v1',
    ]);
    for (const name of names.filter((model) => !model.startsWith('claude'))) {
      expect(typeof (await call(name))).toBe('string');
    }
    expect(await call('gpt-4o-mini')).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('allows nothing on an empty list', async () => {
    await allow([]);
    expect(await listed()).toEqual([]);
    expect(await call('gpt-4o')).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});
