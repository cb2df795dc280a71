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

/**
 * Returns the value found at `location` in the request, cut for the recorder. Credentials
 * (`authorization`, `x-api-key`) are never WAF targets, so they never become a sample.
 */
function valueAt(request: FastifyRequest, location: string): string | null {
  const { targets } = collectTargets(
    wafRequestOf(request),
    RAW_SAMPLE_LENGTH + 1,
    MAX_SAMPLE_VALUES,
  );
  const target = targets.find((candidate) => candidate.location === location);
  if (target) return clipRawSample(target.value);
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
