import type { LogFn } from 'pino';

/** The purpose of a message, which logs name instead of its content. */
export type MailPurpose = 'password_reset' | 'invitation';

/** One plain-text mail. The text may carry a secret token, so it is never logged. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  purpose: MailPurpose;
  /** The id of the row the mail belongs to (a reset token or an invitation), for logs. */
  referenceId: string;
}

/** Sends mail. Implementations must not log a message's text or recipient. */
export interface MailTransport {
  /** `smtp` delivers; `suppressed` only logs that a mail was not sent. */
  readonly kind: 'smtp' | 'suppressed';
  /** Resolves once the mail server accepted the message; rejects when delivery failed. */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** The logger methods the mail code uses; pino and Fastify loggers both have them. */
export interface MailLogger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
