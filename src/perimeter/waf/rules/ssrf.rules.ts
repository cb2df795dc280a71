import { SEVERITY, type WafRule } from '../rule.js';
import { ARGS, DECODE, patternRule } from './common.js';

/** Server-side request forgery rules: cloud metadata endpoints, loopback names and data URLs. */
export const SSRF_RULES: WafRule[] = [
  patternRule({
    id: 931200,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'URL to a cloud metadata service or a loopback address',
    targets: ARGS,
    transforms: DECODE,
    needles: [':'],
    pattern:
      '^[a-z][a-z0-9+.-]*:(?://)?(?:[^/@]*@)?(?:169\\.254\\.169\\.254|\\[?fd00:ec2::254\\]?|metadata\\.google\\.internal|100\\.100\\.100\\.200|127\\.[0-9.]+|0\\.0\\.0\\.0|\\[?::1?\\]?|0x7f[0-9a-f]*|2130706433|localhost)(?:[:/?#]|$)',
  }),
  patternRule({
    id: 931210,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Host name that resolves to the local machine or a container host',
    targets: [...ARGS, 'cookie'],
    transforms: DECODE,
    needles: [
      'localhost',
      'docker.internal',
      'lvh.me',
      'localtest.me',
      'nip.io',
      'sslip.io',
      '.localdomain',
      'internal',
    ],
    pattern:
      '^(?:[a-z]+://)?(?:localhost[0-9]*(?:\\.localdomain[0-9]*)?|(?:host|gateway)\\.docker\\.internal|kubernetes\\.default(?:\\.svc)?|[a-z0-9.-]*\\.?(?:lvh\\.me|localtest\\.me|nip\\.io|sslip\\.io))[:/?#]',
  }),
  patternRule({
    id: 931220,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'data: URL in a parameter, which lets an attacker supply the fetched content',
    targets: ARGS,
    transforms: DECODE,
    needles: ['data:'],
    pattern: '^\\s*data:[a-z]+/[a-z0-9.+-]+[;,]',
  }),
];
