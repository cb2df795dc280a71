/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../../src/config/load-config.js';
import { registerAccessRules } from '../../../src/perimeter/access-rules.js';
import type { PerimeterBlock } from '../../../src/perimeter/perimeter-block.js';
import { from, wrongNonce } from './challenge-client.js';

const RUSSIA = '5.45.200.1';
const TOR_EXIT = '185.220.101.7';
const ORDINARY = '198.51.100.40';

let folder: string;
const running: FastifyInstance[] = [];

/** Starts a bare app with only the access rules and one session route, on loopback. */
async function startApp(env: Record<string, string>, blocks: PerimeterBlock[]): Promise<string> {
  const app = Fastify({ trustProxy: ['127.0.0.1'] });
  running.push(app);
  const config = loadConfig({
    MINDWEAVE_DATA_DIR: folder,
    GEO_BLOCK_COUNTRIES: 'RU',
    GEOIP_DB_FILE: join(folder, 'geo.csv'),
    TOR_EXIT_LIST_FILE: join(folder, 'tor.txt'),
    CHALLENGE_DIFFICULTY: '4',
    LOG_LEVEL: 'silent',
    ...env,
  });
  await registerAccessRules(app, {
    config,
    logger: app.log,
    redis: null,
    onBlock: (_request, block) => blocks.push(block),
  });
  app.get('/api/v1/auth/me', { config: { security: { auth: 'session' } } }, async () => ({}));
  return app.listen({ host: '127.0.0.1', port: 0 });
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-block-listener-'));
  await writeFile(join(folder, 'geo.csv'), '5.45.192.0,5.45.255.255,RU\n');
  await writeFile(join(folder, 'tor.txt'), `${TOR_EXIT}\n`);
});

afterAll(async () => {
  await Promise.all(running.map((app) => app.close()));
  await rm(folder, { recursive: true, force: true });
});

describe('perimeter block listener', () => {
  const blocks: PerimeterBlock[] = [];
  let url: string;

  beforeAll(async () => {
    url = await startApp({}, blocks);
  });

  it('reports a geo block', async () => {
    blocks.length = 0;
    expect((await fetch(`${url}/api/v1/auth/me`, { headers: from(RUSSIA) })).status).toBe(403);
    expect(blocks).toEqual([{ source: 'geo', ruleIds: ['geo:RU'], location: null, sample: null }]);
  });

  it('reports a Tor challenge', async () => {
    blocks.length = 0;
    expect((await fetch(`${url}/api/v1/auth/me`, { headers: from(TOR_EXIT) })).status).toBe(403);
    expect(blocks).toEqual([
      { source: 'challenge', ruleIds: ['tor:exit'], location: null, sample: null },
    ]);
  });

  it('reports a bot challenge with the User-Agent', async () => {
    blocks.length = 0;
    const headers = from(ORDINARY, { 'user-agent': 'curl/8.5.0' });
    expect((await fetch(`${url}/api/v1/auth/me`, { headers })).status).toBe(403);
    expect(blocks).toEqual([
      {
        source: 'challenge',
        ruleIds: ['bot:user-agent'],
        location: 'header:user-agent',
        sample: 'curl/8.5.0',
      },
    ]);
  });

  it('reports a rejected solution', async () => {
    const issued = await fetch(`${url}/challenge`, { method: 'POST', headers: from(TOR_EXIT) });
    const { challenge } = (await issued.json()) as { challenge: string };
    blocks.length = 0;
    const response = await fetch(`${url}/challenge/verify`, {
      method: 'POST',
      headers: from(TOR_EXIT, { 'content-type': 'application/json' }),
      body: JSON.stringify({ challenge, nonce: wrongNonce(challenge, 4) }),
    });
    expect(response.status).toBe(403);
    expect(blocks).toEqual([
      {
        source: 'challenge',
        ruleIds: ['challenge:insufficient-work'],
        location: null,
        sample: null,
      },
    ]);
  });

  it('reports nothing for a passing request', async () => {
    blocks.length = 0;
    expect((await fetch(`${url}/api/v1/auth/me`, { headers: from(ORDINARY) })).status).toBe(200);
    expect(blocks).toEqual([]);
  });

  it('reports a Tor block', async () => {
    const torBlocks: PerimeterBlock[] = [];
    const blockingUrl = await startApp({ TOR_ACTION: 'block' }, torBlocks);
    const response = await fetch(`${blockingUrl}/challenge`, {
      method: 'POST',
      headers: from(TOR_EXIT),
    });
    expect(response.status).toBe(403);
    expect(torBlocks).toEqual([
      { source: 'tor', ruleIds: ['tor:exit'], location: null, sample: null },
    ]);
  });
});
