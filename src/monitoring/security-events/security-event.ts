/**
 * Kinds of security events: blocks and bursts of blocks from the perimeter, failed sign-ins and
 * lockouts from sign-in, and break-glass access.
 */
export const SECURITY_EVENT_KINDS = [
  'perimeter_block',
  'block_burst',
  'login_failed',
  'account_locked',
  'break_glass',
] as const;

export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

export const SECURITY_EVENT_SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

export type SecurityEventSeverity = (typeof SECURITY_EVENT_SEVERITIES)[number];

/** One event as callers hand it to the recorder; the recorder cleans every text field. */
export interface SecurityEventInput {
  kind: SecurityEventKind;
  severity: SecurityEventSeverity;
  /** The control or component that raised it: `waf`, `rate_limit`, `auth`, and so on. */
  source: string;
  /** Defaults to the time `record` is called. */
  occurredAt?: Date;
  clientIp?: string | null;
  ruleIds?: readonly string[];
  location?: string | null;
  /** Offending input; stored truncated, with personal data and credentials masked. */
  sample?: string | null;
  requestId?: string | null;
  /** The organization the event concerns; null for events before authentication. */
  orgId?: string | null;
  /** Extra facts as a flat JSON object; never secrets or personal data. */
  details?: Record<string, string | number | boolean | null>;
}

/** A stored event, as the repository reads it. */
export interface SecurityEvent {
  id: string;
  occurredAt: Date;
  kind: SecurityEventKind;
  severity: SecurityEventSeverity;
  source: string;
  clientIp: string | null;
  ruleIds: string[];
  location: string | null;
  sample: string | null;
  requestId: string | null;
  orgId: string | null;
  details: Record<string, unknown>;
}

/** Records security events without making the caller wait for the database. */
export interface SecurityEventSink {
  record(event: SecurityEventInput): void;
}
