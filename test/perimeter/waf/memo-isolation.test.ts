import { describe, expect, it } from 'vitest';

import { createWafEngine } from '../../../src/perimeter/waf/index.js';
import type { WafEngine, WafExclusion, WafRequest } from '../../../src/perimeter/waf/index.js';
import { makeRequest } from './helpers.js';

const PAYLOAD = '<script>alert(1)</script>';

function xssLocations(engine: WafEngine, request: WafRequest): string[] {
  return engine
    .inspect(request)
    .matches.filter((match) => match.family === 'xss')
    .map((match) => match.location);
}

describe('WAF value memo isolation', () => {
  it('separates memo entries by kind', () => {
    const exclusions: WafExclusion[] = [{ family: 'xss', location: 'query:n' }];
    const engine = createWafEngine({ exclusions });
    const query = makeRequest({ rawQuery: `n=${encodeURIComponent(PAYLOAD)}` });
    expect(engine.inspect(query).matches.some((match) => match.location === 'query:n')).toBe(false);

    const cookie = makeRequest({ cookies: { n: PAYLOAD } });
    expect(engine.inspect(cookie).action).toBe('block');
    const header = makeRequest({ headers: { ...makeRequest().headers, n: PAYLOAD } });
    expect(engine.inspect(header).action).toBe('block');
    const body = makeRequest({
      method: 'POST',
      bodyKind: 'admin',
      headers: { ...makeRequest().headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: `n=${encodeURIComponent(PAYLOAD)}`,
    });
    expect(engine.inspect(body).action).toBe('block');
  });

  it('separates query names from values', () => {
    const engine = createWafEngine({ exclusions: [{ family: 'xss', location: 'query:x' }] });
    const excluded = makeRequest({ rawQuery: `x=${encodeURIComponent(PAYLOAD)}` });
    expect(engine.inspect(excluded).action).toBe('allow');
    // The query-name target of this request has name and value both equal to the payload.
    const asName = makeRequest({ rawQuery: `${encodeURIComponent(PAYLOAD)}=1` });
    expect(engine.inspect(asName).action).toBe('block');
  });

  it('keeps exclusions on their route', () => {
    const exclusions: WafExclusion[] = [
      { routeId: 'admin.templates', family: 'xss', location: 'body:$.template' },
    ];
    const engine = createWafEngine({ exclusions });
    const onRoute = (routeId: string) =>
      makeRequest({
        method: 'POST',
        routeId,
        bodyKind: 'admin',
        body: { template: PAYLOAD },
      });
    expect(engine.inspect(onRoute('admin.templates')).action).toBe('allow');
    expect(engine.inspect(onRoute('admin.tenants')).action).toBe('block');
    expect(engine.inspect(onRoute('admin.templates')).action).toBe('allow');
    expect(engine.inspect(onRoute('')).action).toBe('block');
  });

  it('keeps disabled rules on their route', () => {
    const engine = createWafEngine({ exclusions: [{ routeId: 'open', family: 'xss' }] });
    const request = (routeId: string) => makeRequest({ routeId, cookies: { c: PAYLOAD } });
    expect(engine.inspect(request('open')).action).toBe('allow');
    expect(engine.inspect(request('closed')).action).toBe('block');
  });

  it('memo verdicts match a fresh engine', () => {
    const exclusions: WafExclusion[] = [{ family: 'sqli', location: 'header:x-q' }];
    const engine = createWafEngine({ exclusions });
    const requests = [
      makeRequest({ headers: { ...makeRequest().headers, 'x-q': "' OR 1=1 --" } }),
      makeRequest({ headers: { ...makeRequest().headers, 'x-r': "' OR 1=1 --" } }),
      makeRequest({ cookies: { 'x-q': "' OR 1=1 --" } }),
      makeRequest({ rawQuery: 'x-q=%27%20OR%201%3D1%20--' }),
    ];
    for (let round = 0; round < 3; round += 1) {
      for (const request of requests) {
        expect(engine.inspect(request)).toEqual(createWafEngine({ exclusions }).inspect(request));
      }
    }
  });

  it('blocks attacks after memo eviction', () => {
    const engine = createWafEngine();
    const attack = makeRequest({ rawQuery: `q=${encodeURIComponent(PAYLOAD)}` });
    expect(engine.inspect(attack).action).toBe('block');
    for (let i = 0; i < 25_000; i += 1) {
      engine.inspect(makeRequest({ rawQuery: `q=v${i}`, routeId: `route-${i % 7}` }));
      if (i % 5000 === 0) expect(engine.inspect(attack).action).toBe('block');
    }
    expect(engine.inspect(attack).action).toBe('block');
    expect(xssLocations(engine, attack)).toContain('query:q');
  });

  it('applies threshold and paranoia per engine', () => {
    const request = makeRequest({ cookies: { c: PAYLOAD } });
    const strict = createWafEngine({ threshold: 5 });
    const lenient = createWafEngine({ threshold: 1000 });
    expect(strict.inspect(request).action).toBe('block');
    expect(lenient.inspect(request).action).toBe('allow');
    expect(strict.inspect(request).action).toBe('block');
    const paranoid = createWafEngine({ paranoiaLevel: 4 });
    expect(paranoid.inspect(request).matches.length).toBeGreaterThanOrEqual(
      strict.inspect(request).matches.length,
    );
  });
});
