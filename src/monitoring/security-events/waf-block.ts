import type { FastifyRequest } from 'fastify';

import type { PerimeterBlock } from '../../perimeter/perimeter-block.js';
import { collectTargets } from '../../perimeter/waf/targets.js';
import type { WafMatch, WafVerdict } from '../../perimeter/waf/types.js';
import { wafRequestOf } from '../../perimeter/waf/waf.hook.js';
import { clipRawSample, RAW_SAMPLE_LENGTH } from './sample-masking.js';

// Values searched for the sample; the WAF inspects at most 1,024 per request too.
const MAX_SAMPLE_VALUES = 1024;

/** Returns the match that explains the block best: the highest severity, the first of equals. */
function leadingMatch(matches: readonly WafMatch[]): WafMatch | undefined {
  let leading: WafMatch | undefined;
  for (const match of matches) {
    if (!leading || match.severity > leading.severity) leading = match;
  }
  return leading;
}

// Field names whose values are credentials, matched against the last segment of a target's
// name (`$.currentPassword`, `client_secret`, `session`). A sample of them is only the value,
// without the name that would let the masks recognise it, so the value is never kept.
const CREDENTIAL_FIELD =
  /pass|pwd|secret|token|api[_-]?key|session|otp|credential|private[_-]?key/i;

// Kinds of target that are a value under a name, not the name itself.
const VALUE_KINDS: ReadonlySet<string> = new Set(['body', 'query', 'cookie', 'header']);

function isCredentialField(name: string): boolean {
  const segment = name.slice(Math.max(name.lastIndexOf('.'), name.lastIndexOf('[')) + 1);
  return CREDENTIAL_FIELD.test(segment);
}

/**
 * Returns the value found at `location` in the request, cut for the recorder. Credentials
 * (`authorization`, `x-api-key`) are never WAF targets, so they never become a sample, and the
 * value of a field named like a credential becomes `[secret]`.
 */
function valueAt(request: FastifyRequest, location: string): string | null {
  const { targets } = collectTargets(
    wafRequestOf(request),
    RAW_SAMPLE_LENGTH + 1,
    MAX_SAMPLE_VALUES,
  );
  const target = targets.find((candidate) => candidate.location === location);
  if (target) {
    const isValue = VALUE_KINDS.has(target.kind);
    return isValue && isCredentialField(target.name) ? '[secret]' : clipRawSample(target.value);
  }
  return location === 'method' ? request.method : null;
}

/** Describes a WAF verdict as a perimeter block: every rule that matched, and one sample. */
export function wafBlockOf(request: FastifyRequest, verdict: WafVerdict): PerimeterBlock {
  const leading = leadingMatch(verdict.matches);
  return {
    source: 'waf',
    ruleIds: [...new Set(verdict.matches.map((match) => String(match.ruleId)))],
    location: leading?.location ?? null,
    sample: leading ? valueAt(request, leading.location) : null,
  };
}
