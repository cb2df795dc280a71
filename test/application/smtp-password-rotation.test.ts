import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SmtpSettings } from '../../src/application/mail/mail-settings.js';
import { SmtpMailTransport } from '../../src/application/mail/smtp-mail-transport.js';
import { SmtpCapture } from '../support/smtp-capture.js';

const ROTATED_PASSWORD = 'smtp-rotated-password-2';

let capture: SmtpCapture;
let settings: SmtpSettings;

beforeAll(async () => {
  capture = new SmtpCapture({ credentials: { user: 'mailer', password: ROTATED_PASSWORD } });
  const port = await capture.start();
  settings = {
    host: '127.0.0.1',
    port,
    tls: 'none',
    user: 'mailer',
    password: 'smtp-old-password-1',
  };
});

afterAll(async () => {
  await capture?.stop();
});

describe('SMTP transport with rotating settings', () => {
  it('uses the rotated password for the next mail', async () => {
    let current = settings;
    const transport = new SmtpMailTransport(settings, 'mindweave@example.com', () => current);
    const message = {
      to: 'first@example.com',
      subject: 'Reset',
      text: 'hello',
      purpose: 'password_reset' as const,
      referenceId: 'reset-1',
    };
    await expect(transport.send(message)).rejects.toThrow(/Invalid username or password/);

    current = { ...settings, password: ROTATED_PASSWORD };
    await transport.send({ ...message, to: 'second@example.com' });
    const mail = await capture.waitFor('second@example.com');
    expect(mail.authUser).toBe('mailer');
    await transport.close();
  });
});
