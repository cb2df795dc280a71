import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadPromptCases } from '../../../bench/waf/prompts.js';
import { createWafEngine } from '../../../src/perimeter/waf/index.js';

const FIXTURE = join(import.meta.dirname, '../../fixtures/waf/benign-prompts.json');
const cases = loadPromptCases(FIXTURE);

describe('benign prompts', () => {
  it('fixture has at least 40 prompts', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const paranoiaLevel of [1, 2, 3, 4] as const) {
    const engine = createWafEngine({ paranoiaLevel });

    it.each(cases.map((item) => [item.id, item] as const))(
      `passes %s at paranoia ${paranoiaLevel}`,
      (_id, item) => {
        const verdict = engine.inspect(item.request);
        expect(verdict.matches).toEqual([]);
        expect(verdict.action).toBe('allow');
      },
    );
  }

  it('would block the same bodies on an admin route', () => {
    const engine = createWafEngine();
    const blocked = cases.filter(
      (item) => engine.inspect({ ...item.request, bodyKind: 'admin' }).action === 'block',
    );
    expect(blocked.length).toBeGreaterThan(cases.length / 2);
  });
});
