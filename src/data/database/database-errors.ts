/**
 * Classifies errors from either database driver (`pg` and PGlite), so callers can tell a
 * database they cannot reach from a statement the database refused.
 */

interface ErrorFields {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

// SQLSTATE codes and classes that indicate the server cannot serve this connection at all:
// connection exceptions (class 08), insufficient resources (class 53, such as too many
// connections or a full disk), an administrator or crash shutdown, the server still
// starting (57P01 to 57P03), a missing database (3D000) and rejected credentials (28000,
// 28P01).
const UNAVAILABLE_STATE = /^(08|53|57P0[1-3]$|3D000$|28000$|28P01$)/;

// Socket errors of a connection that failed or broke.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// Errors that `pg` and its pool raise without a code, matched on the start of their message.
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end',
  'Query read timeout',
];

/**
 * Checks whether `error` indicates that the database cannot be reached or cannot serve
 * connections now, as opposed to an error in a statement. Requests that fail this way get 503.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message, errors } = error as ErrorFields;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || UNAVAILABLE_STATE.test(code)) return true;
    // "database ... is not currently accepting connections" shares its code with unrelated
    // statement errors, so the message decides.
    if (code === '55000' && typeof message === 'string' && message.includes('accepting connections')) {
      return true;
    }
  }
  if (typeof message === 'string' && DRIVER_MESSAGES.some((start) => message.startsWith(start))) {
    return true;
  }
  // A connection to a host name with several addresses fails with one error per address.
  return Array.isArray(errors) && errors.length > 0 && errors.every(isDatabaseUnavailable);
}

/**
 * True when PostgreSQL rejected the rows of a statement for their content: a data exception
 * (SQLSTATE class 22) or an integrity constraint violation (class 23), such as a row that
 * references a deleted parent. Writing the same rows again fails the same way.
 */
export function rejectsRows(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as ErrorFields;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}
