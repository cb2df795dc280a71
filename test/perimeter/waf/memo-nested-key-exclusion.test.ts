import { describe, expect, it } from 'vitest';

import { createWafEngine } from '../../../src/perimeter/waf/index.js';
import type { WafExclusion, WafRequest } from '../../../src/perimeter/waf/index.js';
import { makeRequest } from './helpers.js';

const PAYLOAD = '<script>alert(1)</script>';

function postJson(body: unknown): WafRequest {
  return makeRequest({ method: 'POST', routeId: 'admin.templates', bodyKind: 'admin', body });
}

describe('WAF memo and location exclusions', () => {
  it('inspects a JSON key outside the excluded subtree', () => {
    const exclusions: WafExclusion[] = [
      { routeId: 'admin.templates', family: 'xss', location: 'body-name:$.safe*' },
    ];
    const engine = createWafEngine({ exclusions });
    const attack = postJson({ other: { [PAYLOAD]: 1 } });
    expect(createWafEngine({ exclusions }).inspect(attack).action).toBe('block');

    // The same key under the excluded subtree is allowed and its empty match list remembered.
    expect(engine.inspect(postJson({ safe: { [PAYLOAD]: 1 } })).action).toBe('allow');
    expect(engine.inspect(attack).action).toBe('block');
  });

  it('reports the location of the request that matched', () => {
    const engine = createWafEngine();
    engine.inspect(postJson({ first: { [PAYLOAD]: 1 } }));
    const locations = engine
      .inspect(postJson({ second: { [PAYLOAD]: 1 } }))
      .matches.filter((match) => match.family === 'xss')
      .map((match) => match.location);
    expect(locations.length).toBeGreaterThan(0);
    for (const location of locations) expect(location).toBe(`body-name:$.second.${PAYLOAD}`);
  });
});
