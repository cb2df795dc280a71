import { describe, expect, it } from 'vitest';

import {
  compressWhitespace,
  formDecode,
  normalizePath,
  normalizeUnicode,
  urlDecode,
  urlDecodeOnce,
} from '../../../src/perimeter/waf/transformations.js';
import {
  htmlEntityDecode,
  removeComments,
  shellUnescape,
} from '../../../src/perimeter/waf/transformations-text.js';

describe('urlDecode', () => {
  it('decodes percent escapes', () => {
    expect(urlDecodeOnce('%3Cscript%3E')).toBe('<script>');
  });

  it('decodes double encoding up to the round limit', () => {
    expect(urlDecode('%252e%252e%252f')).toBe('../');
    expect(urlDecode('%25252e')).toBe('.');
  });

  it('decodes %u escapes and overlong dots', () => {
    expect(urlDecodeOnce('%u002e%u002e')).toBe('..');
    expect(urlDecodeOnce('%c0%ae%c0%ae/')).toBe('../');
  });

  it('keeps invalid escapes and plus signs', () => {
    expect(urlDecodeOnce('100%zz+1')).toBe('100%zz+1');
  });

  it('formDecode turns plus into space', () => {
    expect(formDecode('a+b%2Bc')).toBe('a b+c');
  });
});

describe('htmlEntityDecode', () => {
  it('decodes named and numeric references', () => {
    expect(htmlEntityDecode('&lt;a&gt; &#60; &#x3C; &quot;')).toBe('<a> < < "');
  });

  it('decodes numeric references without a semicolon', () => {
    expect(htmlEntityDecode('jav&#13ascript')).toBe('jav\rascript');
  });

  it('keeps unknown names and bare ampersands', () => {
    expect(htmlEntityDecode('Tom & Jerry &unknown;')).toBe('Tom & Jerry &unknown;');
  });
});

describe('normalizeUnicode', () => {
  it('folds full-width characters', () => {
    expect(normalizeUnicode('\uff1cscript\uff1e')).toBe('<script>');
  });

  it('returns ASCII input unchanged', () => {
    const input = 'plain ascii';
    expect(normalizeUnicode(input)).toBe(input);
  });
});

describe('normalizePath', () => {
  it('converts backslashes and collapses slashes but keeps dot-dot', () => {
    expect(normalizePath('a\\\\b//./c/../d')).toBe('a/b/c/../d');
  });
});

describe('removeComments', () => {
  it('replaces block, dash and hash comments', () => {
    expect(removeComments('union/**/select -- x')).toBe('union select  ');
    expect(removeComments('1 # tail\nnext')).toBe('1  \nnext');
  });

  it('keeps the content of MySQL executable comments', () => {
    expect(removeComments('/*!50000select*/ 1')).toBe(' select  1');
  });
});

describe('compressWhitespace', () => {
  it('collapses runs of whitespace', () => {
    expect(compressWhitespace('a \t\n b')).toBe('a b');
  });
});

describe('shellUnescape', () => {
  it('removes quotes, escapes and IFS tricks', () => {
    expect(shellUnescape("c'a't${IFS}/etc/pa\\sswd")).toBe('cat /etc/passwd');
    expect(shellUnescape('w^h^o^a^m^i')).toBe('whoami');
  });
});
