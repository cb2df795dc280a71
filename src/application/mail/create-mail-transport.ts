import type { MailSettings } from './mail-settings.js';
import type { MailLogger, MailTransport } from './mail-transport.js';
import { SmtpMailTransport } from './smtp-mail-transport.js';
import { SuppressedMailTransport } from './suppressed-mail-transport.js';

/** Creates the SMTP transport when a server is set, and the suppressing fallback otherwise. */
export function createMailTransport(settings: MailSettings, logger: MailLogger): MailTransport {
  if (settings.smtp) {
    logger.info(
      { smtpHost: settings.smtp.host, smtpPort: settings.smtp.port, smtpTls: settings.smtp.tls },
      'mail goes through SMTP',
    );
    return new SmtpMailTransport(settings.smtp, settings.from);
  }
  logger.warn('no SMTP server is configured: password reset and invitation mails are not sent');
  return new SuppressedMailTransport(logger);
}
