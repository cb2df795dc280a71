import { Writable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { requestLoggerFactory } from '../../src/http/request-logger.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';

/** Creates a process logger at `level` that collects its JSON lines in `lines`. */
function capture(level: 'warn' | 'info') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger(level, destination), lines };
}

describe('request logger', () => {
  it('writes enabled levels with bindings', () => {
    const { logger, lines } = capture('warn');
    const log = requestLoggerFactory(logger, { requestId: 'req-1' }, {});
    log.warn({ status: 503 }, 'upstream slow');
    log.error(new Error('boom'), 'call failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]?.requestId).toBe('req-1');
    expect(lines[0]?.status).toBe(503);
    expect(lines[0]?.msg).toBe('upstream slow');
    expect(lines[0]?.service).toBe('mindweave');
    expect(lines[1]?.requestId).toBe('req-1');
    expect((lines[1]?.err as { message?: string } | undefined)?.message).toBe('boom');
  });

  it('drops lines below the level', () => {
    const { logger, lines } = capture('warn');
    const log = requestLoggerFactory(logger, { requestId: 'req-2' }, {});
    log.info({ status: 200 }, 'request completed');
    log.debug('detail');
    log.trace('more detail');
    expect(lines).toHaveLength(0);
    expect(log.level).toBe('warn');
  });

  it('keeps redaction of secrets', () => {
    const { logger, lines } = capture('info');
    const log = requestLoggerFactory(logger, { requestId: 'req-3' }, {});
    log.info({ headers: { authorization: 'Bearer mw_secret_value' }, apiKey: 'k' }, 'logged');
    expect(JSON.stringify(lines)).not.toContain('mw_secret_value');
    expect((lines[0]?.headers as { authorization?: string }).authorization).toBe('[redacted]');
    expect(lines[0]?.apiKey).toBe('[redacted]');
  });

  it('setting the level applies', () => {
    const { logger, lines } = capture('warn');
    const log = requestLoggerFactory(logger, { requestId: 'req-4' }, {});
    log.level = 'debug';
    log.debug('now visible');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.requestId).toBe('req-4');
    expect(log.level).toBe('debug');
    expect(logger.level).toBe('warn');
  });

  it('child keeps both bindings', () => {
    const { logger, lines } = capture('info');
    const log = requestLoggerFactory(logger, { requestId: 'req-5' }, {});
    log.child({ orgId: 'org-1' }).info('from child');
    expect(lines[0]?.requestId).toBe('req-5');
    expect(lines[0]?.orgId).toBe('org-1');
  });

  it('route log level applies', () => {
    const { logger, lines } = capture('warn');
    const log = requestLoggerFactory(logger, { requestId: 'req-6' }, { level: 'info' });
    log.info('route logs at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.requestId).toBe('req-6');
  });
});
