import type { FastifyRequest } from 'fastify';

import type {
  PerimeterBlock,
  PerimeterBlockListener,
  PerimeterBlockSource,
} from '../../perimeter/perimeter-block.js';
import type { WafVerdict } from '../../perimeter/waf/types.js';
import type { BurstDetector } from './burst-detector.js';
import { clipRawSample } from './sample-masking.js';
import type { SecurityEventSeverity, SecurityEventSink } from './security-event.js';
import { wafBlockOf } from './waf-block.js';

const SEVERITY: Readonly<Record<PerimeterBlockSource, SecurityEventSeverity>> = {
  waf: 'medium',
  rate_limit: 'low',
  request_limit: 'low',
  geo: 'low',
  tor: 'low',
  challenge: 'low',
};

/** The listeners the perimeter controls call with every request they block. */
export interface PerimeterEventListeners {
  /** For rate limits, request limits, geo and Tor rules and the challenge. */
  onBlock: PerimeterBlockListener;
  /** For the WAF, which reports its verdict rather than a block. */
  onWafVerdict: (request: FastifyRequest, verdict: WafVerdict) => void;
}

/**
 * Creates the listeners that record each block as a `perimeter_block` event and count it
 * towards burst detection. Neither waits for the database or Redis: the event is queued, and
 * the burst count runs in the background.
 *
 * NOTE: requests that Node's HTTP parser rejects (malformed HTTP, timeouts, the connection cap
 * per IP) never reach a listener, so they are not recorded.
 */
export function perimeterEventListeners(
  sink: SecurityEventSink,
  bursts: BurstDetector | null,
  wafMode: string,
): PerimeterEventListeners {
  const recordBlock = (
    request: FastifyRequest,
    block: PerimeterBlock,
    details: Record<string, string | number | boolean | null> = {},
  ) => {
    const clientIp = request.ip ?? null;
    const requestId = request.id ?? null;
    sink.record({
      kind: 'perimeter_block',
      severity: SEVERITY[block.source] ?? 'low',
      source: block.source,
      clientIp,
      ruleIds: block.ruleIds,
      location: block.location,
      sample: block.sample === null ? null : clipRawSample(block.sample),
      requestId,
      details: { method: request.method, route: request.routeOptions.url ?? null, ...details },
    });
    void bursts?.observe({ clientIp, source: block.source, ruleIds: block.ruleIds, requestId });
  };

  return {
    onBlock: (request, block) => recordBlock(request, block),
    onWafVerdict: (request, verdict) =>
      recordBlock(request, wafBlockOf(request, verdict), {
        // In monitor mode the WAF lets the request through and only reports it.
        enforced: wafMode === 'block',
        score: verdict.score,
      }),
  };
}
