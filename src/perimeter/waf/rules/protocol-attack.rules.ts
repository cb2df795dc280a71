import { SEVERITY, type WafRule } from '../rule.js';
import { ARGS, DECODE, patternRule } from './common.js';
import { firstHeader } from './protocol-helpers.js';

const METHODS =
  'get|post|head|options|connect|put|delete|trace|track|patch|propfind|proppatch|mkcol|copy|move|lock|unlock';

/** Protocol attack rules: request smuggling, response splitting, header injection, LDAP injection. */
export const PROTOCOL_ATTACK_RULES: WafRule[] = [
  patternRule({
    id: 921110,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'HTTP request line inside an argument (request smuggling)',
    targets: ARGS,
    transforms: ['urlDecode', 'lowercase'],
    needles: ['http/'],
    pattern: `(?:^|[\\r\\n])\\s*(?:${METHODS})\\s+[^\\s]+\\s+http/[0-9]`,
  }),
  patternRule({
    id: 921120,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Response splitting: a line break followed by a response header or status line',
    targets: ARGS,
    transforms: ['urlDecode', 'lowercase'],
    needles: ['\r', '\n'],
    pattern:
      '[\\r\\n]\\W*?(?:content-(?:type|length|disposition)|set-cookie|location|refresh|x-xss-protection)\\s*:\\s*[^\\s]|[\\r\\n]\\W*?http/[0-9]|[\\r\\n]\\s*<(?:html|meta|script|body)\\b',
  }),
  patternRule({
    id: 921150,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Line break in an argument name or header value (header injection)',
    targets: ['query-name', 'body-name', 'header'],
    transforms: ['urlDecode'],
    needles: ['\r', '\n'],
    pattern: '[\\r\\n]',
  }),
  patternRule({
    id: 921160,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Line break followed by a header name in an argument (header injection)',
    targets: ARGS,
    transforms: ['urlDecode', 'lowercase'],
    needles: ['\r', '\n'],
    pattern:
      '[\\r\\n]+\\s*(?:location|refresh|(?:set-)?cookie|(?:x-)?(?:forwarded-(?:for|host|server)|host|via|remote-ip|remote-addr|originating-ip))\\s*[\\r\\n]*\\s*:\\s*[^\\s]',
  }),
  patternRule({
    id: 921190,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Line break in the request path',
    targets: ['path'],
    transforms: ['urlDecode'],
    needles: ['\r', '\n'],
    pattern: '[\\r\\n]',
  }),
  patternRule({
    id: 921200,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'LDAP filter injection: a closing parenthesis followed by a new filter term',
    targets: ARGS,
    transforms: DECODE,
    needles: [')'],
    pattern:
      '\\)\\s*\\(\\s*(?:[&|!]|[a-z][a-z0-9;.-]*\\s*[~<>]?=)|\\)\\s*[&|!]\\s*\\(|\\)\\s*\\(\\s*[&|!]?\\s*$',
  }),
  patternRule({
    id: 921240,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Unix-socket proxy target (unix:...|http://) used against Apache mod_proxy',
    targets: ['query', 'query-name', 'path'],
    transforms: ['urlDecode', 'lowercase'],
    needles: ['unix:'],
    pattern: 'unix:[^|]*\\|',
  }),
  {
    id: 921421,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Content-Type that names a second media type in a parameter',
    scope: 'request',
    check(request) {
      const header = firstHeader(request, 'content-type')?.toLowerCase();
      if (header === undefined) return undefined;
      const semicolon = header.indexOf(';');
      if (semicolon < 0) return undefined;
      const parameters = header.slice(semicolon);
      const mediaType = ['application/', 'text/', 'multipart/', 'image/'].some((prefix) =>
        parameters.includes(prefix),
      );
      return mediaType ? 'header:content-type' : undefined;
    },
  },
];
