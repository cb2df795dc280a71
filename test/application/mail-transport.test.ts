import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createMailTransport } from '../../src/application/mail/create-mail-transport.js';
import { MailOutbox } from '../../src/application/mail/mail-outbox.js';
import { mailSettingsFromConfig } from '../../src/application/mail/mail-settings.js';
import type { MailMessage } from '../../src/application/mail/mail-transport.js';
import { SmtpMailTransport } from '../../src/application/mail/smtp-mail-transport.js';
import { loadConfig } from '../../src/config/load-config.js';
import { writeDevCert, type DevCertFiles } from '../../src/perimeter/tls/dev-cert.js';
import { SmtpCapture } from '../support/smtp-capture.js';

const SMTP_USER = 'mindweave-mailer';
const SMTP_PASSWORD = 'smtp-Pa55word-for-tests';

const message: MailMessage = {
  to: 'invitee@example.com',
  subject: 'Test subject',
  text: 'Token: mw_reset_secret-text-of-the-message',
  purpose: 'password_reset',
  referenceId: '7d8c2a70-9a2e-4f7e-8a1b-0c3f5f1d2e44',
};

function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

let smtp: SmtpCapture;
let plain: SmtpCapture;
let starttls: SmtpCapture;
let certDir: string;
let cert: DevCertFiles;

beforeAll(async () => {
  smtp = new SmtpCapture({ credentials: { user: SMTP_USER, password: SMTP_PASSWORD } });
  await smtp.start();
  plain = new SmtpCapture();
  await plain.start();
  // A self-signed certificate for 127.0.0.1, which only SMTP_CA_FILE makes trusted.
  certDir = await mkdtemp(join(tmpdir(), 'mindweave-smtp-tls-'));
  cert = await writeDevCert(certDir);
  /* eslint-disable security/detect-non-literal-fs-filename -- files just written above */
  const pem = {
    cert: await readFile(cert.certFile, 'utf8'),
    key: await readFile(cert.keyFile, 'utf8'),
  };
  /* eslint-enable security/detect-non-literal-fs-filename */
  starttls = new SmtpCapture({
    credentials: { user: SMTP_USER, password: SMTP_PASSWORD },
    tls: pem,
  });
  await starttls.start();
});

afterAll(async () => {
  await smtp?.stop();
  await plain?.stop();
  await starttls?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe('SMTP transport', () => {
  it('delivers with AUTH', async () => {
    const transport = new SmtpMailTransport(
      {
        host: '127.0.0.1',
        port: smtp.port,
        tls: 'none',
        user: SMTP_USER,
        password: SMTP_PASSWORD,
        caFile: null,
      },
      'MindWeave <noreply@example.com>',
    );
    await transport.send(message);
    await transport.close();
    const mail = await smtp.waitFor('invitee@example.com');
    expect(mail.from).toBe('noreply@example.com');
    expect(mail.authUser).toBe(SMTP_USER);
    expect(mail.headers.subject).toBe('Test subject');
    expect(mail.text).toContain(message.text);
  });

  it('rejects a wrong SMTP password', async () => {
    const transport = new SmtpMailTransport(
      {
        host: '127.0.0.1',
        port: smtp.port,
        tls: 'none',
        user: SMTP_USER,
        password: 'wrong',
        caFile: null,
      },
      'MindWeave <noreply@example.com>',
    );
    await expect(transport.send({ ...message, to: 'nobody@example.com' })).rejects.toThrow();
    await transport.close();
    expect(smtp.messagesTo('nobody@example.com')).toHaveLength(0);
  });

  it('refuses to send without STARTTLS when required', async () => {
    const transport = new SmtpMailTransport(
      {
        host: '127.0.0.1',
        port: plain.port,
        tls: 'starttls',
        user: null,
        password: null,
        caFile: null,
      },
      'MindWeave <noreply@example.com>',
    );
    await expect(transport.send({ ...message, to: 'cleartext@example.com' })).rejects.toThrow();
    await transport.close();
    expect(plain.messagesTo('cleartext@example.com')).toHaveLength(0);
  });
});

describe('SMTP over STARTTLS', () => {
  const settings = () => ({
    host: '127.0.0.1',
    port: starttls.port,
    tls: 'starttls' as const,
    user: SMTP_USER,
    password: SMTP_PASSWORD,
  });

  it('delivers with a trusted CA file', async () => {
    const transport = new SmtpMailTransport(
      { ...settings(), caFile: cert.certFile },
      'MindWeave <noreply@example.com>',
    );
    await transport.send({ ...message, to: 'tls@example.com' });
    await transport.close();
    const mail = await starttls.waitFor('tls@example.com');
    expect(mail.authUser).toBe(SMTP_USER);
    expect(mail.text).toContain(message.text);
  });

  it('rejects an untrusted certificate', async () => {
    const transport = new SmtpMailTransport(
      { ...settings(), caFile: null },
      'MindWeave <noreply@example.com>',
    );
    await expect(transport.send({ ...message, to: 'untrusted@example.com' })).rejects.toThrow();
    await transport.close();
    expect(starttls.messagesTo('untrusted@example.com')).toHaveLength(0);
  });

  it('reads SMTP_CA_FILE', () => {
    const read = mailSettingsFromConfig(
      loadConfig({ SMTP_HOST: 'mail.example.com', SMTP_CA_FILE: '/etc/ssl/private-ca.pem' }),
    );
    expect(read.smtp?.caFile).toBe('/etc/ssl/private-ca.pem');
  });
});

describe('mail settings', () => {
  it('read SMTP_URL with an encoded password', () => {
    const settings = mailSettingsFromConfig(
      loadConfig({ SMTP_URL: 'smtp://mailer:p%40ss%3Aword@mail.example.com:2525' }),
    );
    expect(settings.smtp).toEqual({
      host: 'mail.example.com',
      port: 2525,
      tls: 'starttls',
      user: 'mailer',
      password: 'p@ss:word',
      caFile: null,
    });
  });

  it('use implicit TLS on port 465 for smtps', () => {
    const settings = mailSettingsFromConfig(loadConfig({ SMTP_URL: 'smtps://mail.example.com' }));
    expect(settings.smtp).toMatchObject({ port: 465, tls: 'implicit', user: null });
  });

  it('read the separate variables', () => {
    const settings = mailSettingsFromConfig(
      loadConfig({
        SMTP_HOST: 'mail.example.com',
        SMTP_USER: 'mailer',
        SMTP_PASSWORD: SMTP_PASSWORD,
        SMTP_TLS: 'none',
        SMTP_FROM: 'Ops <ops@example.com>',
      }),
    );
    expect(settings.smtp).toEqual({
      host: 'mail.example.com',
      port: 25,
      tls: 'none',
      user: 'mailer',
      password: SMTP_PASSWORD,
      caFile: null,
    });
    expect(settings.from).toBe('Ops <ops@example.com>');
  });

  it('are empty without a server', () => {
    expect(mailSettingsFromConfig(loadConfig({})).smtp).toBeNull();
  });

  it('reject another URL scheme without echoing it', () => {
    expect(() => loadConfig({ SMTP_URL: `https://u:${SMTP_PASSWORD}@mail.example.com` })).toThrow(
      'SMTP_URL must be an smtp:// or smtps:// URL',
    );
    try {
      loadConfig({ SMTP_URL: `https://u:${SMTP_PASSWORD}@mail.example.com` });
    } catch (error) {
      expect(String(error)).not.toContain(SMTP_PASSWORD);
    }
  });
});

describe('mail logging', () => {
  it('names the SMTP server but not its password', () => {
    const { logger, lines } = capturingLogger();
    const settings = mailSettingsFromConfig(
      loadConfig({ SMTP_URL: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}` }),
    );
    const transport = createMailTransport(settings, logger);
    expect(transport.kind).toBe('smtp');
    expect(lines.join('\n')).toContain('mail goes through SMTP');
    expect(lines.join('\n')).not.toContain(SMTP_PASSWORD);
  });

  it('suppresses mail without SMTP and logs no text', async () => {
    const { logger, lines } = capturingLogger();
    const outbox = new MailOutbox(
      createMailTransport(mailSettingsFromConfig(loadConfig({})), logger),
      logger,
    );
    expect(outbox.transport.kind).toBe('suppressed');
    outbox.enqueue(message, 'request-1');
    await outbox.close();
    const suppressed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(suppressed.some((line) => String(line.msg).startsWith('mail suppressed'))).toBe(true);
    expect(suppressed.find((line) => line.referenceId === message.referenceId)).toBeDefined();
    for (const line of lines) {
      expect(line).not.toContain('mw_reset_');
      expect(line).not.toContain(message.to);
    }
  });

  it('logs a failed delivery without the message', async () => {
    const { logger, lines } = capturingLogger();
    const transport = new SmtpMailTransport(
      {
        host: '127.0.0.1',
        port: smtp.port,
        tls: 'none',
        user: SMTP_USER,
        password: 'wrong',
        caFile: null,
      },
      'MindWeave <noreply@example.com>',
    );
    const outbox = new MailOutbox(transport, logger);
    outbox.enqueue(message, 'request-2');
    await outbox.close();
    const failed = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === 'mail delivery failed');
    expect(failed).toMatchObject({ purpose: 'password_reset', requestId: 'request-2' });
    for (const line of lines) {
      expect(line).not.toContain('mw_reset_');
      expect(line).not.toContain('wrong');
    }
  });
});
