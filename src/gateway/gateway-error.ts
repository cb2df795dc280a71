import type { ErrorCode } from '../http/errors.js';
import { ERROR_CATALOGUE } from '../http/errors.js';

/**
 * An expected gateway failure. The gateway's error handler renders it in the error shape of
 * the provider API the client called, so the official SDKs raise their typed errors.
 */
export class GatewayError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'GatewayError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}
