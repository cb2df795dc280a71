import { describe, expect, it } from 'vitest';

import { detectXss, isScriptUrl } from '../../../src/perimeter/waf/xss-detector.js';
import { readTags } from '../../../src/perimeter/waf/xss-tokenizer.js';

const ATTACKS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '" onmouseover="alert(1)',
  "' onfocus=alert(1) autofocus x='",
  'javascript:alert(1)',
  '<a href=" \x0e  javascript:alert(1)">',
  '<svg/onload=alert(1)>',
  '<scr<script>ipt>alert(1)',
  '<iframe src=//evil.example>',
  '<div style="background:url(javascript:alert(1))">',
  '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
  '<body onload=alert(1)',
];

const BENIGN = [
  '<b>bold</b>',
  'a < b and c > d',
  'x=1 onion=3',
  'hello "online" world',
  'mode=fast onboarding=true',
  '<img src="photo.png" alt="me">',
  'data:image/png;base64,iVBORw0KGgo=',
  '<p class="note">see https://example.com</p>',
];

describe('detectXss', () => {
  it.each(ATTACKS)('flags %s', (value) => {
    expect(detectXss(value.toLowerCase())).toBe(true);
  });

  it.each(BENIGN)('passes %s', (value) => {
    expect(detectXss(value.toLowerCase())).toBe(false);
  });
});

describe('isScriptUrl', () => {
  it('ignores control characters inside the scheme', () => {
    expect(isScriptUrl('java\tscript:alert(1)')).toBe(true);
  });

  it('accepts plain image data URLs', () => {
    expect(isScriptUrl('data:image/gif;base64,R0lGOD')).toBe(false);
  });
});

describe('readTags', () => {
  it('reads attributes with every quote style', () => {
    const [tag] = readTags('<a href="x" title=\'y\' data-z=`w` flag>');
    expect(tag?.name).toBe('a');
    expect(tag?.attributes).toEqual([
      { name: 'href', value: 'x' },
      { name: 'title', value: 'y' },
      { name: 'data-z', value: 'w' },
      { name: 'flag', value: undefined },
    ]);
  });

  it('bounds the number of tags read', () => {
    expect(readTags('<a'.repeat(10_000)).length).toBe(256);
  });
});
