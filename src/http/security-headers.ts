/** Directives of the Content-Security-Policy that apply on plain HTTP and HTTPS alike. */
const CSP_DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "font-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "base-uri 'self'",
];

/**
 * Returns the security headers sent on every response. The Content-Security-Policy keeps the
 * directive list of the MindWeave security design but allows only this origin: a self-hosted
 * server has no CDN or font host to trust, and the console ships its scripts and styles itself.
 * `upgrade-insecure-requests` is added only when clients reach the server over HTTPS (its own
 * TLS listener, or a proxy that ends TLS). On a plain-HTTP server it makes browsers rewrite
 * the console's own `http:` subresource URLs to `https:`, which that server cannot serve.
 */
export function securityHeaders(servedOverHttps: boolean): Readonly<Record<string, string>> {
  const csp = servedOverHttps ? [...CSP_DIRECTIVES, 'upgrade-insecure-requests'] : CSP_DIRECTIVES;
  return {
    'content-security-policy': csp.join('; '),
    'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'x-xss-protection': '1; mode=block',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
}
