import { describe, expect, it } from 'vitest';

import {
  clipRawSample,
  MAX_SAMPLE_LENGTH,
  maskSample,
  RAW_SAMPLE_LENGTH,
} from '../../../src/monitoring/security-events/sample-masking.js';

// Built at run time, so no complete secret appears in the source.
const MW_KEY = `mw_live_${'Ab3dE'.repeat(8)}xyz`;
const ANTHROPIC_KEY = `sk-ant-api03-${'q9'.repeat(20)}`;
const OPENAI_KEY = `sk-proj-${'Zx7'.repeat(12)}`;

describe('maskSample', () => {
  const cases: Array<[string, string, string]> = [
    ['e-mail address', 'contact alice.smith+tag@mail.example.org now', '[email]'],
    ['card with spaces', 'card 4111 1111 1111 1111 exp', '[card]'],
    ['card with dashes', 'pan=5500-0000-0000-0004', '[card]'],
    ['bare card number', 'n 4012888888881881 end', '[card]'],
    ['phone number', 'call +1 (555) 123-4567 today', '[phone]'],
    ['european phone', 'tel 030 1234 5678', '[phone]'],
    ['long digit run', 'account 0012345678', '[number]'],
    ['bearer token', 'Authorization: Bearer abc.def-ghi', '[token]'],
    ['MindWeave key', `key ${MW_KEY}`, '[api-key]'],
    ['Anthropic key', `x ${ANTHROPIC_KEY} y`, '[api-key]'],
    ['OpenAI key', `x ${OPENAI_KEY} y`, '[api-key]'],
    ['password field', 'user=bob&password=hunter2&x=1', 'password=[secret]'],
    ['JSON token field', '{"token": "abc123"}', '"token": "[secret]"'],
    ['hex secret', `s ${'0123456789abcdef'.repeat(3)} e`, '[secret]'],
  ];

  for (const [name, input, placeholder] of cases) {
    it(`masks ${name}`, () => {
      expect(maskSample(input)).toContain(placeholder);
    });
  }

  it('removes every secret value', () => {
    const input =
      `a@b.io 4111111111111111 +44 20 7946 0958 ${MW_KEY} ${ANTHROPIC_KEY} ` +
      'Bearer tok3nvalue password=hunter2';
    const masked = maskSample(input);
    for (const secret of [
      'a@b.io',
      '4111111111111111',
      '7946',
      MW_KEY,
      ANTHROPIC_KEY,
      'tok3nvalue',
      'hunter2',
    ]) {
      expect(masked).not.toContain(secret);
    }
  });

  it('keeps attack text readable', () => {
    expect(maskSample("1' OR '1'='1' --")).toBe("1' OR '1'='1' --");
    expect(maskSample('<script>alert(1)</script>')).toBe('<script>alert(1)</script>');
    expect(maskSample('../../etc/passwd')).toBe('../../etc/passwd');
  });

  it('keeps IPv4 addresses', () => {
    expect(maskSample('http://169.254.169.254/latest')).toBe('http://169.254.169.254/latest');
  });

  it('escapes control characters', () => {
    expect(maskSample('a\u0000b\nc')).toBe('a\\x00b\\x0ac');
  });

  it('truncates to the maximum length', () => {
    const masked = maskSample('x'.repeat(1000));
    expect(masked).toHaveLength(MAX_SAMPLE_LENGTH);
    expect(masked.endsWith('…')).toBe(true);
  });

  it('drops a secret cut by clipping', () => {
    const raw = clipRawSample(`${'a '.repeat((RAW_SAMPLE_LENGTH - 20) / 2)}${MW_KEY}`);
    expect(raw.length).toBe(RAW_SAMPLE_LENGTH + 1);
    const masked = maskSample(raw);
    expect(masked).not.toContain('mw_live_');
    expect(masked).not.toContain('Ab3dE');
  });

  it('repairs a cut surrogate pair', () => {
    const masked = maskSample(`${'x'.repeat(MAX_SAMPLE_LENGTH - 2)}😀😀`);
    expect(masked.isWellFormed()).toBe(true);
  });
});

describe('maskSample of clipped input', () => {
  it('keeps the start of a long cut token', () => {
    const masked = maskSample(clipRawSample('A'.repeat(5000)));
    expect(masked).toBe(`${'A'.repeat(MAX_SAMPLE_LENGTH - 1)}…`);
  });

  it('drops a cut e-mail address', () => {
    const raw = clipRawSample(`x ${'a'.repeat(RAW_SAMPLE_LENGTH - 10)}@example.com`);
    expect(maskSample(raw)).toBe('x ');
  });
});
