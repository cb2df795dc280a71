import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

import { AppError, errorBody } from '../../http/errors.js';

/** Maps a Node HTTP parser or timeout error to the catalogue. */
function clientErrorOf(code: string | undefined): AppError {
  if (code === 'HPE_HEADER_OVERFLOW') return new AppError('headers_too_large');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('request_timeout');
  return new AppError('validation_failed', 'The request is not valid HTTP/1.1');
}

/**
 * Responds to a request that Node could not parse, or one that timed out, with the admin error
 * envelope and `headers`, and closes the connection. Fastify calls this for the server's
 * `clientError` event, before any route or hook, so the request id in the body is new.
 */
export function handleClientError(
  error: Error & { code?: string },
  socket: Socket,
  headers: Readonly<Record<string, string>>,
): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const appError = clientErrorOf(error.code);
  const body = JSON.stringify(errorBody(appError, randomUUID()));
  const headerLines = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? 'Error'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      headerLines +
      'connection: close\r\n\r\n' +
      body,
  );
}
