import { SEVERITY, type Target, type WafRule } from '../rule.js';
import type { WafRequest } from '../types.js';
import { ARGS, DECODE, patternRule } from './common.js';

/** Argument names that carry a session id in common frameworks, lower-cased. */
const SESSION_NAMES: ReadonlySet<string> = new Set([
  'phpsessid',
  'phpsession',
  'jsessionid',
  'aspsessionid',
  'asp.net_sessionid',
  'cfid',
  'cftoken',
  'cfsid',
  'sessionid',
  'session_id',
  'session-id',
  'sid',
  'connect.sid',
  'sails.sid',
  'koa.sess',
  'koa:sess',
  'express.sid',
  'rack.session',
  '_flask_session',
  'flask_session',
  'laravel_session',
  'ci_session',
  'cakephp',
  'symfony',
  'django_session',
  'sessionid2',
  'next-auth.session-token',
  '__secure-next-auth.session-token',
  'meteor_login_token',
  'shiny-token',
  'weblogicsession',
  'jwsession',
  'zend_session',
  'websession',
  'mojolicious',
  'plack_session',
  'remember_token',
]);

function isSessionName(name: string): boolean {
  const lower = name.toLowerCase();
  return SESSION_NAMES.has(lower) || lower.startsWith('aspsessionid');
}

function headerValue(request: WafRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Host part of a Referer URL, lower-cased, or undefined when it cannot be parsed. */
function refererHost(referer: string): string | undefined {
  try {
    return new URL(referer).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function sessionArgument(targets: readonly Target[]): Target | undefined {
  return targets.find(
    (target) =>
      (target.kind === 'query-name' || target.kind === 'body-name') && isSessionName(target.name),
  );
}

/** Session fixation rules: cookie-setting script in input, and session ids passed as arguments. */
export const SESSION_RULES: WafRule[] = [
  patternRule({
    id: 943100,
    family: 'session-fixation',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Input that sets a cookie: document.cookie, .cookie with expires/domain, Set-Cookie, http-equiv',
    targets: ARGS,
    transforms: DECODE,
    needles: ['cookie'],
    pattern:
      '\\.cookie\\b[^\\n]{0,80}?(?:=|\\b(?:expires|domain|path)\\s*=)|http-equiv\\s*=\\s*[\'"]?set-cookie|\\bset-cookie\\s*:',
  }),
  {
    id: 943110,
    family: 'session-fixation',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Session id passed as an argument with a Referer from another host',
    scope: 'request',
    check(request, targets) {
      const argument = sessionArgument(targets);
      const referer = headerValue(request, 'referer');
      if (argument === undefined || referer === undefined) return undefined;
      const host = (headerValue(request, 'host') ?? '').toLowerCase().split(':')[0] ?? '';
      const from = refererHost(referer);
      if (from === undefined || from === host || from.endsWith(`.${host}`)) return undefined;
      return argument.location;
    },
  },
  {
    id: 943120,
    family: 'session-fixation',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Session id passed as an argument without a Referer',
    scope: 'request',
    check(request, targets) {
      const argument = sessionArgument(targets);
      if (argument === undefined || headerValue(request, 'referer') !== undefined) return undefined;
      return argument.location;
    },
  },
];
