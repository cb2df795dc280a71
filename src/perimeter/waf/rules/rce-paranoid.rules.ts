import { SEVERITY, type WafRule } from '../rule.js';
import { ARGS, DECODE, SHELL_DECODE, patternRule } from './common.js';
import { COMMON_COMMANDS, DISTINCTIVE_COMMANDS } from './rce-commands.js';

/** Command injection rules for paranoia level 2 and above, which also match some plain text. */
export const RCE_PARANOID_RULES: WafRule[] = [
  patternRule({
    id: 932239,
    family: 'rce',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'User-Agent or Referer that starts with a command, or a command after a separator',
    targets: ['header'],
    headers: ['user-agent', 'referer'],
    transforms: SHELL_DECODE,
    pattern: `(?:^|[;&|\\x60]|\\$\\()\\s*(?:[a-z0-9_./~-]*/)?(?:${[...DISTINCTIVE_COMMANDS, ...COMMON_COMMANDS].join('|')})(?:$|\\s)`,
  }),
  patternRule({
    id: 932300,
    family: 'rce',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'Mail protocol command after a line break: SMTP, IMAP or POP3 injection',
    targets: ARGS,
    transforms: DECODE,
    needles: ['\n', '\r'],
    pattern:
      '[\\r\\n]\\s*(?:(?:rcpt\\s+to|mail\\s+from)\\s*:|(?:ehlo|helo|vrfy|expn|auth|starttls|quit|rset|data)\\b|[a-z0-9]+\\s+(?:authenticate|login|select|examine|append|fetch|store|uid|capability|logout|list|lsub|copy)\\b|(?:user|pass|retr|dele|stat|apop|uidl)\\s)',
  }),
];
