import { SEVERITY, type WafRule } from '../rule.js';
import { ARGS, DECODE, patternRule } from './common.js';

/** Remote file inclusion and server-side request forgery rules. */
export const RFI_RULES: WafRule[] = [
  patternRule({
    id: 931100,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'URL whose host is a literal IP address',
    targets: ARGS,
    transforms: DECODE,
    needles: ['://'],
    pattern:
      '^(?:https?|ftps?|file|gopher|dict|ldaps?|tftp)://(?:\\[?[0-9a-f:]*:[0-9a-f:]+\\]?|[0-9]{1,3}(?:\\.[0-9]{1,3}){3})(?:[:/?#]|$)',
  }),
  patternRule({
    id: 931110,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'URL in a parameter name typical of PHP include vulnerabilities',
    targets: ['query', 'body'],
    names: [
      '[path]',
      'include',
      'mosconfig',
      'root_path',
      'rootpath',
      'basepath',
      'base_path',
      '_dir]',
      'phpbb_root',
      'config[',
      'conf[',
    ],
    transforms: DECODE,
    needles: ['://'],
    pattern: '^(?:https?|ftps?)://',
  }),
  patternRule({
    id: 931120,
    family: 'rfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'URL ending in "?", which cuts off the suffix an include appends',
    targets: ARGS,
    transforms: DECODE,
    needles: ['?'],
    pattern: '^(?:file|ftps?|https?)(?::/{0,3}[^?]*)?\\?+$',
  }),
  patternRule({
    id: 931130,
    family: 'rfi',
    paranoia: 2,
    severity: SEVERITY.critical,
    description:
      'URL with a scheme used for file access or request forgery, or with an explicit port',
    targets: ARGS,
    transforms: DECODE,
    needles: [':'],
    pattern:
      '^(?:(?:url:|jar:)?(?:file|local_file|ldaps?|gopher|dict|jar|netdoc|phar|expect|tftp|ftps?):|https?://[^/?#]*(?::[0-9]+|%2f[^/]*@|/@))',
  }),
];
