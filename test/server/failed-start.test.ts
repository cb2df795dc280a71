/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer } from '../../src/server/start-server.js';

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-failed-start-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('a start that fails after storage is open', { timeout: 120_000 }, () => {
  it('releases the data folder for the next start in the same process', async () => {
    const dataDir = join(folder, 'data');
    const geoFile = join(folder, 'bad-geo.csv');
    // The geo database is read while the routes are built, after the embedded database, the
    // key hierarchy and the background timers have started.
    await writeFile(geoFile, '5.45.192.0,5.45.192.x,RU\n');
    const base = { HOST: '127.0.0.1', PORT: '0', MINDWEAVE_DATA_DIR: dataDir };
    const logger = createLogger('silent');

    const failing = loadConfig({ ...base, GEO_BLOCK_COUNTRIES: 'RU', GEOIP_DB_FILE: geoFile });
    await expect(startServer(failing, logger)).rejects.toThrow(/bad-geo\.csv/);

    const server = await startServer(loadConfig(base), logger);
    try {
      const response = await fetch(`${server.url}/readyz`);
      expect(response.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
