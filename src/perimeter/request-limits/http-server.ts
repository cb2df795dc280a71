import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';

import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';
import type { TlsServerOptions } from '../tls/tls-options.js';

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

// How often Node checks open connections against headersTimeout and requestTimeout. Node's
// default is 30 s, which would let a slow client hold a connection long past headersTimeout.
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 1000;

// A rejected connection is logged once per this many, so a flood does not flood the log.
const REJECT_LOG_EVERY = 100;

/** Rejects time limits Node would refuse: headers must arrive before the whole request. */
export function assertServerLimits(config: Config): void {
  if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
    throw new ConfigError('HEADERS_TIMEOUT_MS', 'must not be greater than REQUEST_TIMEOUT_MS');
  }
}

/**
 * Creates the HTTP or HTTPS server behind Fastify (as its `serverFactory`) with the perimeter's
 * limits: header size, header count, time limits for slow clients, and a cap on open
 * connections per client IP. The cap counts the TCP peer, which is the proxy when MindWeave
 * runs behind one.
 */
export function createPerimeterServer(
  handler: RequestHandler,
  config: Config,
  logger: Logger,
  tls: TlsServerOptions | null,
): Server {
  const httpOptions = {
    maxHeaderSize: config.MAX_HEADER_BYTES,
    headersTimeout: config.HEADERS_TIMEOUT_MS,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, config.HEADERS_TIMEOUT_MS),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
  };
  const server = tls
    ? // An HTTPS server is an HTTP server on TLS sockets; Fastify's types expect node:http's.
      (createHttpsServer(
        { ...httpOptions, ...tls, handshakeTimeout: config.HEADERS_TIMEOUT_MS },
        handler,
      ) as unknown as Server)
    : createHttpServer(httpOptions, handler);
  // Node drops headers past maxHeadersCount without an error. One extra lets the request-limit
  // hook see that the count was exceeded and reject the request.
  server.maxHeadersCount = config.MAX_HEADER_COUNT + 1;
  limitConnectionsPerIp(server, config.MAX_CONNECTIONS_PER_IP, logger);
  return server;
}

function limitConnectionsPerIp(server: Server, maxPerIp: number, logger: Logger): void {
  const open = new Map<string, number>();
  let rejected = 0;
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    const count = open.get(ip) ?? 0;
    if (count >= maxPerIp) {
      rejected += 1;
      if (rejected % REJECT_LOG_EVERY === 1) {
        logger.warn(
          { ip, maxConnectionsPerIp: maxPerIp, rejectedConnections: rejected },
          'connection rejected: too many open connections from this client IP',
        );
      }
      socket.destroy();
      return;
    }
    open.set(ip, count + 1);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}
