import { isIP } from 'node:net';

import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** Time limits of the Redis connection, in milliseconds. */
export interface RedisTimeouts {
  /** Maximum time to open the TCP (or TLS) connection. */
  connectMs: number;
  /** Maximum time one command may wait for its reply before it fails. */
  commandMs: number;
  /** Maximum pause between reconnection attempts. */
  maxReconnectDelayMs: number;
}

export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = {
  connectMs: 2000,
  commandMs: 1000,
  maxReconnectDelayMs: 2000,
};

/** A Redis connection and the way to close it. */
export interface RedisConnection {
  client: Redis;
  /** Resolves once the first connection is ready, or with false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Returns the scheme, host, port and database of a Redis URL for logs, without credentials. */
export function redactRedisUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/**
 * Returns the ioredis options for `url`. ioredis reads the host, port, user name, password and
 * database number from the URL itself. For `rediss://` ioredis alone would pass a bare
 * `tls: true`, so the TLS options are set here: TLS 1.2 or later and certificate verification
 * on. A host name is sent for SNI and checked against the certificate, and an IP address is
 * checked against the certificate's IP entries.
 */
export function redisOptions(url: string, timeouts: RedisTimeouts): RedisOptions {
  const parsed = new URL(url);
  const options: RedisOptions = {
    connectTimeout: timeouts.connectMs,
    commandTimeout: timeouts.commandMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, timeouts.maxReconnectDelayMs),
  };
  if (parsed.protocol === 'rediss:') {
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    options.tls = {
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(isIP(host) === 0 ? { servername: host } : {}),
    };
  }
  return options;
}

/**
 * Creates a Redis client from a `redis://` or `rediss://` URL, with the options of
 * {@link redisOptions}. Commands fail at once while the connection is down instead of
 * queueing, so callers can apply their own failure policy. Errors are logged with the host
 * (without user name and password), the error code and message once per outage, and the count
 * of repeats is logged when the connection comes back.
 */
export function createRedisConnection(
  url: string,
  logger: Logger,
  timeouts: RedisTimeouts = DEFAULT_REDIS_TIMEOUTS,
): RedisConnection {
  const target = redactRedisUrl(url);
  const client = new Redis(url, redisOptions(url, timeouts));

  let failuresSinceReady = 0;
  client.on('error', (error: Error & { code?: string }) => {
    failuresSinceReady += 1;
    if (failuresSinceReady === 1) {
      logger.error(
        { redis: target, code: error.code ?? null, reason: error.message },
        'redis connection failed; retrying in the background',
      );
    }
  });
  client.on('ready', () => {
    logger.info({ redis: target, failedAttempts: failuresSinceReady }, 'redis connection ready');
    failuresSinceReady = 0;
  });

  return {
    client,
    waitUntilReady(timeoutMs) {
      if (client.status === 'ready') return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = () => {
          clearTimeout(timer);
          resolve(true);
        };
        client.once('ready', onReady);
      });
    },
    async close() {
      if (client.status === 'end') return;
      try {
        await client.quit();
      } catch {
        // quit() fails while the connection is down; disconnect() stops the reconnect loop.
        client.disconnect();
      }
    },
  };
}
