import type { Config } from '../../config/config.schema.js';

/** How to reach the SMTP server. The password is kept only here and in the transport. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** `implicit`: TLS from the first byte (usually port 465); `starttls`: plain, then STARTTLS. */
  tls: 'starttls' | 'implicit' | 'none';
  user: string | null;
  password: string | null;
  /** PEM file of the certificate authorities to trust for the server, in place of the system's. */
  caFile?: string | null;
}

/** Mail settings: the SMTP server (null when none is set), the sender and the link base. */
export interface MailSettings {
  smtp: SmtpSettings | null;
  from: string;
  /** A web page that completes resets and invitations; the token goes after `#token=`. */
  linkBaseUrl: string | null;
}

const DEFAULT_PORTS = { starttls: 587, implicit: 465, none: 25 } as const;

/**
 * Reads the mail settings. `SMTP_URL` (`smtp://user:password@host:port`, or `smtps://` for
 * implicit TLS) takes precedence over `SMTP_HOST`, `SMTP_PORT`, `SMTP_USER` and
 * `SMTP_PASSWORD`. `SMTP_TLS` applies to both unless the URL is `smtps://`, and so does
 * `SMTP_CA_FILE`.
 */
export function mailSettingsFromConfig(config: Config): MailSettings {
  const base = { from: config.SMTP_FROM, linkBaseUrl: config.MAIL_LINK_BASE_URL ?? null };
  if (config.SMTP_URL) {
    const url = new URL(config.SMTP_URL);
    const tls = url.protocol === 'smtps:' ? 'implicit' : config.SMTP_TLS;
    return {
      ...base,
      smtp: {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port ? Number(url.port) : DEFAULT_PORTS[tls],
        tls,
        user: url.username ? decodeURIComponent(url.username) : null,
        password: url.password ? decodeURIComponent(url.password) : null,
        caFile: config.SMTP_CA_FILE ?? null,
      },
    };
  }
  if (config.SMTP_HOST) {
    return {
      ...base,
      smtp: {
        host: config.SMTP_HOST,
        port: config.SMTP_PORT ?? DEFAULT_PORTS[config.SMTP_TLS],
        tls: config.SMTP_TLS,
        user: config.SMTP_USER ?? null,
        password: config.SMTP_PASSWORD ?? null,
        caFile: config.SMTP_CA_FILE ?? null,
      },
    };
  }
  return { ...base, smtp: null };
}
