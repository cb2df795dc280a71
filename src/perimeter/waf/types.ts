/** Rule families of the engine, one per attack class. */
export type WafFamily =
  | 'protocol'
  | 'scanner'
  | 'lfi'
  | 'rfi'
  | 'rce'
  | 'php'
  | 'java'
  | 'node'
  | 'xss'
  | 'sqli'
  | 'session-fixation';

/** Kind of body the route accepts, which decides how the body is inspected. */
export type WafBodyKind = 'admin' | 'prompt' | 'none';

/** Paranoia level: 1 inspects with the fewest false positives, 4 with the most rules. */
export type ParanoiaLevel = 1 | 2 | 3 | 4;

/** Normalized HTTP request, built by the server before any route handler runs. */
export interface WafRequest {
  /** Request method as sent, for example `GET`. */
  method: string;
  /** Raw request path without the query string, still percent-encoded. */
  path: string;
  /** Raw query string without the leading `?`, still percent-encoded; empty when absent. */
  rawQuery: string;
  /** Request headers keyed by lower-cased name. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed cookies, name to value. */
  cookies: Record<string, string>;
  /** Parsed JSON value, raw body text, or `undefined` when the request has no body. */
  body: unknown;
  /** `prompt` marks an LLM prompt body, which injection rules do not inspect. */
  bodyKind: WafBodyKind;
  /** Stable id of the matched route, used by per-route exclusions. */
  routeId: string;
}

/** One rule that fired on one inspected value. */
export interface WafMatch {
  ruleId: number;
  family: WafFamily;
  /** Origin of the value, for example `query:id`, `header:user-agent`, `body:$.name`. */
  location: string;
  /** Points this match adds to the anomaly score. */
  severity: number;
}

/** Result of inspecting one request. */
export interface WafVerdict {
  action: 'allow' | 'block';
  /** Sum of the severities of all matches. */
  score: number;
  /** Score at which the request is blocked. */
  threshold: number;
  matches: WafMatch[];
  /** Locations whose value was cut to the inspection limit before inspection. */
  truncated: string[];
}

/**
 * Rule exclusion. Every field that is set must match for the exclusion to apply,
 * so `{ routeId: 'admin.policy', family: 'xss', location: 'body:$.template' }`
 * disables XSS rules on one field of one route.
 */
export interface WafExclusion {
  routeId?: string;
  ruleId?: number;
  family?: WafFamily;
  /** Exact location, or a prefix when it ends with `*` (for example `body:$.rules*`). */
  location?: string;
}

/** Engine settings; every field has a default. */
export interface WafConfig {
  /** Highest paranoia level of the rules that run; default 1. */
  paranoiaLevel?: ParanoiaLevel;
  /** Anomaly score at which a request is blocked; default 5, one critical match. */
  threshold?: number;
  exclusions?: WafExclusion[];
  /** Maximum characters inspected per value; longer values are cut and reported. Default 65536. */
  maxValueLength?: number;
  /** Maximum number of values inspected per request; default 1024. */
  maxValues?: number;
  /** HTTP methods the application accepts; default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. */
  allowedMethods?: string[];
}
