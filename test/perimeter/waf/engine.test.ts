import { describe, expect, it } from 'vitest';

import { createWafEngine, type WafRequest } from '../../../src/perimeter/waf/index.js';
import { makeRequest } from './helpers.js';

describe('engine verdict', () => {
  it('allows a benign request with score 0', () => {
    const verdict = createWafEngine().inspect(makeRequest({ rawQuery: 'page=2&sort=name' }));
    expect(verdict.action).toBe('allow');
    expect(verdict.score).toBe(0);
    expect(verdict.threshold).toBe(5);
    expect(verdict.matches).toEqual([]);
  });

  it('blocks SQL injection in a query value', () => {
    const verdict = createWafEngine().inspect(makeRequest({ rawQuery: "id=1'%20or%20'1'%3D'1" }));
    expect(verdict.action).toBe('block');
    expect(verdict.matches).toContainEqual({
      ruleId: 942100,
      family: 'sqli',
      location: 'query:id',
      severity: 5,
    });
  });

  it('reports JSON body locations as paths', () => {
    const request = makeRequest({
      method: 'POST',
      body: { policy: { name: '<script>alert(1)</script>' } },
      bodyKind: 'admin',
    });
    const verdict = createWafEngine().inspect(request);
    expect(verdict.matches.map((match) => match.location)).toContain('body:$.policy.name');
  });

  it('reports header locations', () => {
    const request = makeRequest({ headers: { host: 'x', 'user-agent': 'sqlmap/1.7.2#stable' } });
    const verdict = createWafEngine().inspect(request);
    expect(verdict.matches).toContainEqual({
      ruleId: 913100,
      family: 'scanner',
      location: 'header:user-agent',
      severity: 5,
    });
  });

  it('scores each rule once however many locations match', () => {
    const verdict = createWafEngine({ threshold: 100 }).inspect(
      makeRequest({ rawQuery: 'a=../../etc&b=../../var' }),
    );
    const traversal = verdict.matches.filter((match) => match.ruleId === 930110);
    expect(traversal).toHaveLength(2);
    expect(verdict.score).toBe(5);
  });
});

describe('engine configuration', () => {
  it('blocks only when the score reaches the threshold', () => {
    const request = makeRequest({ rawQuery: 'q=<script>alert(1)</script>' });
    const strict = createWafEngine().inspect(request);
    const lenient = createWafEngine({ threshold: 1000 }).inspect(request);
    expect(strict.action).toBe('block');
    expect(lenient.action).toBe('allow');
    expect(lenient.score).toBe(strict.score);
  });

  it('runs higher paranoia rules only when configured', () => {
    const request = makeRequest({ rawQuery: 'x=ftp://files.example.com/a' });
    expect(createWafEngine({ paranoiaLevel: 1 }).inspect(request).action).toBe('allow');
    expect(createWafEngine({ paranoiaLevel: 2 }).inspect(request).action).toBe('block');
  });

  it('rejects methods outside the allowed list', () => {
    const engine = createWafEngine({ allowedMethods: ['GET', 'POST'] });
    expect(engine.inspect(makeRequest({ method: 'DELETE' })).action).toBe('block');
    expect(createWafEngine().inspect(makeRequest({ method: 'DELETE' })).action).toBe('allow');
  });
});

describe('engine exclusions', () => {
  const attack = makeRequest({
    rawQuery: 'template=<script>x</script>&other=1',
    routeId: 'admin.templates',
  });

  it('disables a family on one route', () => {
    const engine = createWafEngine({ exclusions: [{ routeId: 'admin.templates', family: 'xss' }] });
    expect(engine.inspect(attack).action).toBe('allow');
    expect(engine.inspect({ ...attack, routeId: 'admin.other' }).action).toBe('block');
  });

  it('disables a rule at one location only', () => {
    const engine = createWafEngine({
      threshold: 1,
      exclusions: [{ ruleId: 941100, location: 'query:template' }],
    });
    const ruleIds = engine
      .inspect(attack)
      .matches.map((match) => `${match.ruleId}@${match.location}`);
    expect(ruleIds).not.toContain('941100@query:template');
  });

  it('matches location prefixes ending in *', () => {
    const engine = createWafEngine({ exclusions: [{ family: 'xss', location: 'query:*' }] });
    const families = engine.inspect(attack).matches.map((match) => match.family);
    expect(families).not.toContain('xss');
  });
});

describe('engine prompt bodies', () => {
  const prompt: WafRequest = makeRequest({
    method: 'POST',
    path: '/v1/messages',
    headers: { host: '127.0.0.1', 'content-type': 'application/json' },
    body: {
      messages: [
        {
          role: 'user',
          content: "' or 1=1; drop table users; <script>alert(1)</script> ../../etc/passwd",
        },
      ],
    },
    bodyKind: 'prompt',
    routeId: 'gateway.messages',
  });

  it('does not inspect the prompt body', () => {
    expect(createWafEngine().inspect(prompt).action).toBe('allow');
  });

  it('inspects the same body on an admin route', () => {
    expect(createWafEngine().inspect({ ...prompt, bodyKind: 'admin' }).action).toBe('block');
  });

  it('still inspects query and headers of prompt routes', () => {
    const withQuery = { ...prompt, rawQuery: 'beta=1%20union%20select%20password%20from%20users' };
    expect(createWafEngine().inspect(withQuery).action).toBe('block');
    const withHeader = {
      ...prompt,
      headers: { ...prompt.headers, 'user-agent': '<script>alert(1)</script>' },
    };
    expect(createWafEngine().inspect(withHeader).action).toBe('block');
  });
});

describe('engine limits', () => {
  it('truncates long values and reports them', () => {
    const long = 'a'.repeat(100) + '%3Cscript%3E';
    const verdict = createWafEngine({ maxValueLength: 50 }).inspect(
      makeRequest({ rawQuery: `q=${long}` }),
    );
    expect(verdict.truncated).toContain('query:q');
    expect(verdict.action).toBe('allow');
  });

  it('caps the number of inspected values', () => {
    const rawQuery = Array.from({ length: 50 }, (_, i) => `k${i}=v`).join('&');
    const verdict = createWafEngine({ maxValues: 10 }).inspect(makeRequest({ rawQuery }));
    expect(verdict.truncated).toContain('values');
  });
});

describe('engine robustness', () => {
  const engine = createWafEngine();
  const malformed: unknown[] = [
    {},
    { method: 123, path: null, rawQuery: undefined, headers: null, cookies: null },
    { ...makeRequest(), body: { a: [1, [2, [3, { b: null }]]] }, bodyKind: 'admin' },
    { ...makeRequest(), rawQuery: '%%%&&==&%u12&%c0', path: '/%zz/%' },
    { ...makeRequest(), headers: { 'x-a': ['one', 'two'], 'x-b': undefined } },
    { ...makeRequest(), body: '\u0000\uffff\ud800', bodyKind: 'admin' },
  ];

  it.each(malformed.map((value, index) => [index, value] as const))(
    'never throws on input %i',
    (_index, value) => {
      expect(() => engine.inspect(value as WafRequest)).not.toThrow();
    },
  );

  it('blocks JSON past the maximum depth', () => {
    let body: unknown = '<script>alert(1)</script>';
    for (let i = 0; i < 100; i++) body = { nested: body };
    const verdict = engine.inspect(makeRequest({ method: 'POST', body, bodyKind: 'admin' }));
    expect(verdict.action).toBe('block');
    expect(verdict.matches.map((match) => match.ruleId)).toEqual([920380]);
  });

  it('fails closed when a rule throws', () => {
    const broken = createWafEngine({}, [
      {
        id: 1,
        family: 'protocol',
        paranoia: 1,
        severity: 5,
        description: 'throws',
        scope: 'request',
        check: () => {
          throw new Error('boom');
        },
      },
    ]);
    const verdict = broken.inspect(makeRequest());
    expect(verdict.action).toBe('block');
    expect(verdict.matches[0]?.location).toBe('engine');
  });
});

describe('engine value memo', () => {
  const xss = '<script>alert(1)</script>';

  it('repeats the verdict of a remembered value', () => {
    const engine = createWafEngine();
    const request = makeRequest({ rawQuery: `q=${encodeURIComponent(xss)}` });
    const first = engine.inspect(request);
    const second = engine.inspect(request);
    expect(first.action).toBe('block');
    expect(second).toEqual(first);
  });

  it('keeps names and values apart', () => {
    const engine = createWafEngine();
    // Joined with NUL, both pairs read `a\0<script>…\01`, but they are different targets.
    const primed = engine.inspect(makeRequest({ rawQuery: `a%00${encodeURIComponent(xss)}=1` }));
    const attack = engine.inspect(makeRequest({ rawQuery: `a=${encodeURIComponent(xss)}%001` }));
    expect(primed.matches.map((match) => match.location)).not.toContain('query:a');
    expect(attack.action).toBe('block');
    expect(attack.matches.map((match) => match.location)).toContain('query:a');
  });

  it('keeps routes apart', () => {
    const engine = createWafEngine({ exclusions: [{ routeId: 'quiet', family: 'xss' }] });
    const query = `q=${encodeURIComponent(xss)}`;
    const quiet = engine.inspect(makeRequest({ routeId: 'quiet', rawQuery: query }));
    const loud = engine.inspect(makeRequest({ routeId: 'loud', rawQuery: query }));
    expect(quiet.matches.filter((match) => match.family === 'xss')).toEqual([]);
    expect(loud.action).toBe('block');
  });

  it('still inspects after evicting old values', () => {
    const engine = createWafEngine();
    for (let i = 0; i < 25_000; i += 1) engine.inspect(makeRequest({ rawQuery: `v=${i}` }));
    const verdict = engine.inspect(makeRequest({ rawQuery: `v=${encodeURIComponent(xss)}` }));
    const benign = engine.inspect(makeRequest({ rawQuery: 'v=24999' }));
    expect(verdict.action).toBe('block');
    expect(benign.action).toBe('allow');
  });
});
