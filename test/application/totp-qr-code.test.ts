import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TOTP_QR_CODE_OPTIONS } from '../../src/application/mfa/totp-qr-code.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, createUser, expectNoSecretLeaks, SecretRecorder, signIn } from './identity-api.js';

let t: TestServer;
const recorder = new SecretRecorder();
let enrollment: Record<string, unknown>;

beforeAll(async () => {
  t = await startTestServer();
  const user = await createUser(t, recorder, { role: 'member' });
  const login = await signIn(t, recorder, user.email, user.password);
  const begin = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', {
    token: login.body.token as string,
    body: {},
  });
  expect(begin.status).toBe(201);
  enrollment = begin.body;
  recorder.add(enrollment.otpauthUri as string);
});

afterAll(async () => {
  await t?.stop();
});

describe('TOTP enrollment QR code', () => {
  it('encodes exactly the otpauth URI', async () => {
    const uri = enrollment.otpauthUri as string;
    expect(new URL(uri).searchParams.get('secret')).toBe(enrollment.secret);
    expect(enrollment.qrCodeSvg).toBe(await QRCode.toString(uri, TOTP_QR_CODE_OPTIONS.svg));
    expect(enrollment.qrCodePngDataUrl).toBe(await QRCode.toDataURL(uri, TOTP_QR_CODE_OPTIONS.png));
  });

  it('differs for another URI', async () => {
    const other = (enrollment.otpauthUri as string).replace('MindWeave', 'MindWeavf');
    expect(enrollment.qrCodeSvg).not.toBe(await QRCode.toString(other, TOTP_QR_CODE_OPTIONS.svg));
  });

  it('is an SVG document and a PNG image', () => {
    const svg = enrollment.qrCodeSvg as string;
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const dataUrl = enrollment.qrCodePngDataUrl as string;
    expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
    const png = Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
  });

  it('carries the secret only inside the image', () => {
    expect(enrollment.qrCodeSvg).not.toContain(enrollment.secret as string);
  });

  it('leaks no secret to logs or audit', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
