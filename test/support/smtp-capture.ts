import type { AddressInfo } from 'node:net';

import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

import { registerSecrets } from './secret-scan.js';

/** One message the capture server accepted, with its text body decoded. */
export interface CapturedMail {
  from: string;
  to: string[];
  /** Header names in lower case; the last value wins. */
  headers: Record<string, string>;
  text: string;
  /** The user name the client authenticated with, if it did. */
  authUser: string | null;
}

export interface SmtpCaptureOptions {
  /** Accept only this user and password; without it, AUTH is optional and anything goes. */
  credentials?: { user: string; password: string };
  /** Offer STARTTLS with this certificate and key (PEM); without them, it is not offered. */
  tls?: { cert: string; key: string };
}

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it receives, so tests read what
 * MindWeave delivered. Messages are plain text, as MindWeave sends them.
 */
export class SmtpCapture {
  readonly messages: CapturedMail[] = [];
  private readonly waiters: { match: (mail: CapturedMail) => boolean; resolve: () => void }[] = [];
  private readonly server: SMTPServer;
  port = 0;

  constructor(options: SmtpCaptureOptions = {}) {
    const serverOptions: SMTPServerOptions = {
      logger: false,
      authOptional: options.credentials === undefined,
      allowInsecureAuth: options.tls === undefined,
      disabledCommands: options.tls ? [] : ['STARTTLS'],
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      onAuth: (auth, _session, callback) => {
        const expected = options.credentials;
        if (expected && (auth.username !== expected.user || auth.password !== expected.password)) {
          callback(new Error('Invalid username or password'));
          return;
        }
        callback(null, { user: auth.username });
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const mail = parseMail(Buffer.concat(chunks).toString('utf8'));
          // Every mailed token must stay out of logs, so the suite-wide scan looks for it.
          registerSecrets(...(mail.text.match(/mw_(?:reset|invite)_[A-Za-z0-9_-]{43}/g) ?? []));
          this.messages.push({
            ...mail,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            authUser: typeof session.user === 'string' ? session.user : null,
          });
          this.notify();
          callback();
        });
      },
    };
    this.server = new SMTPServer(serverOptions);
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Waits until a message to `to` has arrived and returns the latest one. */
  async waitFor(to: string, timeoutMs = 10_000): Promise<CapturedMail> {
    const match = (mail: CapturedMail) => mail.to.includes(to);
    if (!this.messages.some(match)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no mail to ${to} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        this.waiters.push({
          match,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
    return this.messages.filter(match).at(-1) as CapturedMail;
  }

  /** Messages to `to`, oldest first. */
  messagesTo(to: string): CapturedMail[] {
    return this.messages.filter((mail) => mail.to.includes(to));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      if (this.messages.some(waiter.match)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function parseMail(raw: string): Omit<CapturedMail, 'from' | 'to' | 'authUser'> {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  let text = body;
  if (encoding === 'quoted-printable') {
    text = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  } else if (encoding === 'base64') {
    text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { headers, text: text.replace(/\r\n/g, '\n') };
}

const TOKEN_PATTERNS = {
  mw_reset_: /mw_reset_[A-Za-z0-9_-]{43}/,
  mw_invite_: /mw_invite_[A-Za-z0-9_-]{43}/,
} as const;

/** Finds the token with `prefix` in a mail text. */
export function tokenIn(mail: CapturedMail, prefix: keyof typeof TOKEN_PATTERNS): string {
  const match = TOKEN_PATTERNS[prefix].exec(mail.text);
  if (!match) throw new Error(`no ${prefix} token in the mail`);
  return match[0];
}
