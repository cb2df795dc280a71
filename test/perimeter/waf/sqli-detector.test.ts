import { describe, expect, it } from 'vitest';

import { detectSqlInjection, sqlFingerprints } from '../../../src/perimeter/waf/sqli-detector.js';

const ATTACKS = [
  "' or '1'='1",
  '1 or 1=1',
  "admin'-- ",
  '1 union select username, password from users',
  "x' and sleep(5)#",
  '1; drop table users',
  'select * from users',
  '1) or (1=1',
  '-1" or "1"="2',
  '@@version',
  "1' order by 3-- ",
  '1 and ascii(substring(user(),1,1))>64',
  "'; exec master..xp_cmdshell 'dir'--",
  "1;waitfor delay '0:0:5'--",
];

const BENIGN = [
  'NOT ALL WHO WANDER',
  'WHERE IS GEORGE',
  "O'Reilly and sons",
  "Y'ALL COME BACK NOW",
  'select a size',
  'necklace length 16" or 18"',
  '1950 UNION MADE',
  "DRESS WITH HAT 18';",
  'Tom & Jerry',
  'hello world',
  '2024-01-01',
  'john.doe@example.com',
];

describe('detectSqlInjection', () => {
  it.each(ATTACKS)('flags %s', (value) => {
    expect(detectSqlInjection(value.toLowerCase())).toBe(true);
  });

  it.each(BENIGN)('passes %s', (value) => {
    expect(detectSqlInjection(value.toLowerCase())).toBe(false);
  });
});

describe('sqlFingerprints', () => {
  it('lexes the value in three quote contexts', () => {
    expect(sqlFingerprints("1' or '1'='1")).toEqual(['nsnsn', 's&s=s', 's']);
  });

  it('folds union all and order by', () => {
    expect(sqlFingerprints('1 union all select 1 order by 2')[0]).toBe('nUEnKn');
  });

  it('stops at a statement-ending comment', () => {
    expect(sqlFingerprints("admin'-- rest")[1]).toBe('sc');
  });
});
