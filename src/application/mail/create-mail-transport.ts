import type { MailSettings, SmtpSettings } from './mail-settings.js';
import type { MailLogger, MailTransport } from './mail-transport.js';
import { SmtpMailTransport } from './smtp-mail-transport.js';
import { SuppressedMailTransport } from './suppressed-mail-transport.js';

/**
 * Creates the SMTP transport when a server is set, and the suppressing fallback otherwise.
 * `currentSmtp`, when given, is read before each mail so that a rotated password is used.
 */
export function createMailTransport(
  settings: MailSettings,
  logger: MailLogger,
  currentSmtp?: () => SmtpSettings | null,
): MailTransport {
  if (settings.smtp) {
    logger.info(
      { smtpHost: settings.smtp.host, smtpPort: settings.smtp.port, smtpTls: settings.smtp.tls },
      'mail goes through SMTP',
    );
    return new SmtpMailTransport(settings.smtp, settings.from, currentSmtp);
  }
  logger.warn('no SMTP server is configured: password reset and invitation mails are not sent');
  return new SuppressedMailTransport(logger);
}
