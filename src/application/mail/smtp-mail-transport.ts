import { readFileSync } from 'node:fs';

import nodemailer, { type Transporter } from 'nodemailer';

import type { MailMessage, MailTransport } from './mail-transport.js';
import type { SmtpSettings } from './mail-settings.js';

// Give up on an SMTP server that does not respond, so a queued mail does not hang forever.
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/**
 * Delivers mail over SMTP with nodemailer. With `starttls` the connection must be upgraded
 * (nodemailer's `requireTLS`), so a server or a man in the middle that drops STARTTLS makes
 * delivery fail instead of sending the token in clear text. nodemailer's own logger stays off,
 * because its debug output would contain the AUTH exchange and message text.
 */
export class SmtpMailTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  private transporter: Transporter;
  private settings: SmtpSettings;

  /**
   * @param currentSettings read before each mail. When it returns other settings, such as a
   * rotated password, the transport closes its connections and uses the new settings.
   */
  constructor(
    settings: SmtpSettings,
    private readonly from: string,
    private readonly currentSettings?: () => SmtpSettings | null,
  ) {
    this.settings = settings;
    this.transporter = createTransporter(settings);
  }

  async send(message: MailMessage): Promise<void> {
    const current = this.currentSettings?.();
    if (current && !sameSettings(current, this.settings)) {
      this.transporter.close();
      this.settings = current;
      this.transporter = createTransporter(current);
    }
    await this.transporter.sendMail({
      from: this.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
    });
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

function createTransporter(settings: SmtpSettings): Transporter {
  return nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'implicit',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.user !== null
      ? { auth: { user: settings.user, pass: settings.password ?? '' } }
      : {}),
    tls: {
      minVersion: 'TLSv1.2',
      // The path comes from the SMTP_CA_FILE setting, read each time a transporter is built.
      // eslint-disable-next-line security/detect-non-literal-fs-filename
      ...(settings.caFile ? { ca: readFileSync(settings.caFile, 'utf8') } : {}),
    },
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    logger: false,
    debug: false,
  });
}

function sameSettings(a: SmtpSettings, b: SmtpSettings): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.tls === b.tls &&
    a.user === b.user &&
    a.password === b.password &&
    (a.caFile ?? null) === (b.caFile ?? null)
  );
}
