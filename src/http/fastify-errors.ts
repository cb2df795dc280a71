import { isDatabaseUnavailable } from '../data/database/database-errors.js';
import { AppError, type ErrorCode } from './errors.js';

// Fastify's own client errors (body parsing, content type, size), mapped by code to ours.
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

/**
 * Converts anything thrown while handling a request into an {@link AppError}. A database that
 * cannot be reached gives `service_unavailable` (503), so clients retry later and nothing
 * reads the outage as a server bug. Other errors that are not expected client errors become
 * `internal_error`, whose message reveals nothing; the caller logs the original.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return new AppError('service_unavailable');
  const { code, statusCode } = (error ?? {}) as { code?: string; statusCode?: number };
  const mapped = code ? FASTIFY_CODES[code] : undefined;
  if (mapped) return new AppError(mapped);
  if (error instanceof SyntaxError && statusCode === 400) return new AppError('invalid_json');
  if (statusCode === 413) return new AppError('payload_too_large');
  if (statusCode === 415) return new AppError('unsupported_media_type');
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return new AppError('validation_failed', 'The request could not be parsed');
  }
  return new AppError('internal_error');
}
