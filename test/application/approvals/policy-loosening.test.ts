import { describe, expect, it } from 'vitest';

import {
  looseningChanges,
  organizationLoosening,
} from '../../../src/application/approvals/policy-loosening.js';

describe('project policy loosening', () => {
  it.each([
    [{ allowedModels: ['a'] }, { allowedModels: ['a', 'b'] }, 'allowedModels gains b'],
    [{}, { allowedModels: ['a'] }, 'allowedModels gains a'],
    [{ mcpAutoApprove: false }, { mcpAutoApprove: true }, 'mcpAutoApprove turns on for every tool'],
    [{}, { mcpAutoApprove: true }, 'mcpAutoApprove turns on for every tool'],
    [{ mcpAutoApprove: ['x'] }, { mcpAutoApprove: true }, 'mcpAutoApprove turns on for every tool'],
    [{ mcpAutoApprove: false }, { mcpAutoApprove: ['x'] }, 'mcpAutoApprove gains x'],
    [{ mcpAutoApprove: ['x'] }, { mcpAutoApprove: ['x', 'y'] }, 'mcpAutoApprove gains y'],
    [{ maxTokens: 100 }, { maxTokens: 200 }, 'maxTokens rises from 100 to 200'],
    [{ maxTokens: 100 }, {}, 'maxTokens limit is removed'],
    [{ piiHandling: 'block' }, { piiHandling: 'allow' }, 'piiHandling changes'],
    [{}, { maxTokens: 100 }, 'maxTokens changes'],
  ])('%j to %j loosens', (before, after, reason) => {
    expect(looseningChanges(before, after)).toEqual([reason]);
  });

  it.each([
    [{ allowedModels: ['a', 'b'] }, { allowedModels: ['a'] }],
    [{ allowedModels: ['a', 'b'] }, { allowedModels: ['b', 'a'] }],
    [{ mcpAutoApprove: true }, { mcpAutoApprove: false }],
    [{ mcpAutoApprove: true }, { mcpAutoApprove: ['x'] }],
    [{ mcpAutoApprove: ['x', 'y'] }, { mcpAutoApprove: ['x'] }],
    [{ mcpAutoApprove: ['x'] }, { mcpAutoApprove: false }],
    [{ maxTokens: 200 }, { maxTokens: 100 }],
    [{ allowedModels: ['a'] }, { allowedModels: ['a'] }],
  ])('%j to %j does not loosen', (before, after) => {
    expect(looseningChanges(before, after)).toEqual([]);
  });

  it('lists every loosening part', () => {
    const reasons = looseningChanges(
      { allowedModels: ['a'], mcpAutoApprove: false },
      { allowedModels: ['a', 'b', 'c'], mcpAutoApprove: true },
    );
    expect(reasons).toEqual(['allowedModels gains b, c', 'mcpAutoApprove turns on for every tool']);
  });
});

describe('organization loosening', () => {
  it('turning four-eyes off loosens', () => {
    const reasons = organizationLoosening(
      { fourEyes: true, requireMfa: false },
      { fourEyes: false },
    );
    expect(reasons).toEqual(['fourEyes turns off']);
  });

  it('turning required MFA off loosens', () => {
    const reasons = organizationLoosening(
      { fourEyes: true, requireMfa: true },
      { requireMfa: false },
    );
    expect(reasons).toEqual(['requireMfa turns off']);
  });

  it('turning settings on does not loosen', () => {
    const reasons = organizationLoosening(
      { fourEyes: false, requireMfa: false },
      { fourEyes: true, requireMfa: true },
    );
    expect(reasons).toEqual([]);
  });
});
