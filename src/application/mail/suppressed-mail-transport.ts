import type { MailLogger, MailMessage, MailTransport } from './mail-transport.js';

/**
 * The development fallback when no SMTP server is set: it sends nothing and logs that a mail
 * was suppressed, with its purpose and row id only. The text carries a token, so it is not
 * logged. To finish a reset or an invitation in development, configure an SMTP server such as
 * a local mail catcher.
 */
export class SuppressedMailTransport implements MailTransport {
  readonly kind = 'suppressed' as const;

  constructor(private readonly logger: MailLogger) {}

  async send(message: MailMessage): Promise<void> {
    this.logger.warn(
      { purpose: message.purpose, referenceId: message.referenceId },
      'mail suppressed: no SMTP server is configured (set SMTP_URL or SMTP_HOST)',
    );
  }

  async close(): Promise<void> {}
}
