/**
 * The closed catalogue of error codes the admin API returns, with their HTTP status and the
 * default message. The gateway maps the same codes onto each provider's own error shape.
 */
export const ERROR_CATALOGUE = {
  validation_failed: { status: 400, message: 'Validation error' },
  invalid_json: { status: 400, message: 'Request body is not valid JSON' },
  unauthorized: { status: 401, message: 'Missing or invalid credentials' },
  forbidden: { status: 403, message: 'Not allowed' },
  password_change_required: {
    status: 403,
    message: 'Change the one-time password with POST /api/v1/auth/password first',
  },
  mfa_enrollment_required: {
    status: 403,
    message: 'Enroll a second factor with POST /api/v1/auth/mfa/totp first',
  },
  csrf_token_invalid: {
    status: 403,
    message: 'Missing or invalid CSRF token: send the token from sign-in in x-csrf-token',
  },
  organization_disabled: {
    status: 403,
    message: 'This organization is disabled; an owner or admin can enable it again',
  },
  model_not_allowed: { status: 403, message: 'Model is not allowed for this project' },
  waf_blocked: { status: 403, message: 'Request blocked by the web application firewall' },
  geo_blocked: { status: 403, message: 'Requests from your country are not accepted' },
  tor_blocked: { status: 403, message: 'Requests from Tor exit relays are not accepted' },
  challenge_required: {
    status: 403,
    message:
      'Solve a proof-of-work challenge from POST /challenge and send the pass in x-mindweave-challenge',
  },
  challenge_failed: { status: 403, message: 'The challenge solution was not accepted' },
  tool_call_not_approved: {
    status: 403,
    message: 'The request carries the result of a tool call that is not approved',
  },
  self_approval_forbidden: {
    status: 403,
    message: 'You cannot approve your own request: another authorized person must decide it',
  },
  ip_not_allowed: {
    status: 403,
    message: "Your IP address is not in the organization's allowlist",
  },
  not_found: { status: 404, message: 'Not found' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  request_timeout: { status: 408, message: 'The request was not received in time' },
  conflict: { status: 409, message: 'Conflicts with an existing resource' },
  change_request_stale: {
    status: 409,
    message: 'The resource changed after this change was requested; request the change again',
  },
  payload_too_large: { status: 413, message: 'Request body is too large' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json' },
  headers_too_large: { status: 431, message: 'Request headers are too large or too many' },
  rate_limited: { status: 429, message: 'Too many requests' },
  internal_error: { status: 500, message: 'Internal error' },
  upstream_unreachable: { status: 502, message: 'The model provider could not be reached' },
  upstream_error: { status: 502, message: 'The model provider returned an invalid response' },
  service_unavailable: { status: 503, message: 'Service unavailable' },
  upstream_timeout: { status: 504, message: 'The model provider did not answer in time' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One invalid field of a request. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** An expected failure with a stable code; anything else is reported as `internal_error`. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: FieldIssue[],
  ) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

/** The admin API's error body: `{ error, code, details?, requestId }`. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
  details?: FieldIssue[];
  requestId: string;
}

/** Builds the error body for `error`, with the request id that also goes in `x-request-id`. */
export function errorBody(error: AppError, requestId: string): ErrorBody {
  return {
    error: error.message,
    code: error.code,
    ...(error.details ? { details: error.details } : {}),
    requestId,
  };
}
