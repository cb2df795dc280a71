import { describe, expect, it } from 'vitest';

import { findLeaks, MIN_SECRET_LENGTH } from '../support/leak-finder.js';

const session = `mw_sess_${'A'.repeat(43)}`;
const password = 'Sturdy-Lantern-7-Quartz!';

describe('leak finder', () => {
  it('finds a secret inside a line', () => {
    const leaks = findLeaks(
      [session, password],
      [
        { source: 'log 1', text: `{"msg":"ok","token":"${session}"}` },
        { source: 'log 2', text: '{"msg":"request completed"}' },
        { source: 'error 1', text: `{"error":"bad ${password}"}` },
      ],
    );
    expect(leaks).toEqual([
      { source: 'log 1', secretLength: session.length, secretStart: 'mw_s' },
      { source: 'error 1', secretLength: password.length, secretStart: 'Stur' },
    ]);
  });

  it('finds secrets at both ends', () => {
    const text = `${password} middle ${session}`;
    expect(findLeaks([session, password], [{ source: 'x', text }])).toHaveLength(2);
  });

  it('ignores partial matches', () => {
    const text = `${session.slice(0, -1)} ${password.slice(1)}`;
    expect(findLeaks([session, password], [{ source: 'x', text }])).toEqual([]);
  });

  it('reports each secret once per text', () => {
    const text = `${password}${password}${password}`;
    expect(findLeaks([password, password], [{ source: 'x', text }])).toHaveLength(1);
  });

  it('skips secrets shorter than the minimum', () => {
    const short = 'a'.repeat(MIN_SECRET_LENGTH - 1);
    expect(findLeaks([short], [{ source: 'x', text: `${short}${short}` }])).toEqual([]);
  });

  it('finds many secrets in a long text', () => {
    const secrets = Array.from(
      { length: 2000 },
      (_, i) => `secret-value-${i}-${'z'.repeat(i % 7)}`,
    );
    const filler = '{"level":30,"msg":"request completed","status":200}\n'.repeat(2000);
    const text = `${filler}${secrets[1234]}${filler}`;
    const leaks = findLeaks(secrets, [{ source: 'big', text }]);
    expect(leaks).toEqual([
      { source: 'big', secretLength: (secrets[1234] as string).length, secretStart: 'secr' },
    ]);
  });
});
