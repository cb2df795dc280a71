import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * Paths removed from every log line. Request logging writes chosen fields only; this list is
 * the backstop for an object logged whole by mistake.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'currentPassword',
  '*.currentPassword',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
  'messages',
  '*.messages',
  'prompt',
  '*.prompt',
];

/** Creates the process logger: JSON lines on stdout with secrets and prompts redacted. */
export function createLogger(level: LevelWithSilent, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'mindweave' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
