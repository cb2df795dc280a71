import type { FastifyRequest } from 'fastify';

/** Which perimeter control turned a request away. */
export type PerimeterBlockSource =
  'waf' | 'rate_limit' | 'request_limit' | 'geo' | 'tor' | 'challenge';

/** One request the perimeter blocked, as the security-events store records it. */
export interface PerimeterBlock {
  source: PerimeterBlockSource;
  /** Ids of the rules that fired, such as WAF rule ids or `geo:country`. */
  ruleIds: string[];
  /** Where the offending input was found (`query:id`, `header:user-agent`), when known. */
  location: string | null;
  /** The offending input; the recorder truncates and masks it before it is stored. */
  sample: string | null;
}

/** Called with every request a perimeter control blocks. */
export type PerimeterBlockListener = (request: FastifyRequest, block: PerimeterBlock) => void;
