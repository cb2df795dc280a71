import { SEVERITY, type TargetKind, type WafRule } from '../rule.js';
import { ARGS, DECODE, SHELL_DECODE, patternRule } from './common.js';
import { COMMON_COMMANDS, DISTINCTIVE_COMMANDS } from './rce-commands.js';

/** Headers that applications often log or pass to scripts, inspected for command injection. */
const COMMAND_HEADERS: readonly string[] = ['user-agent', 'referer'];

/** Substrings of which one occurs wherever `COMMAND_START` matches. */
const COMMAND_START_NEEDLES: readonly string[] = [
  ';',
  '&',
  '|',
  '\n',
  '`',
  '{',
  '$(',
  '<(',
  '>(',
  '(',
  'do',
  'then',
];

/** Start of a new shell command: a separator, substitution, pipe or here-string. */
const COMMAND_START = '(?:[;&|\\n\\x60{]|\\$\\(|[<>]\\(|<<<|\\(\\s*\\)|\\bdo\\b|\\bthen\\b)';

/** Wrappers that run the command that follows them. */
const WRAPPERS =
  '(?:(?:sudo|nohup|time|env|nice|timeout|strace|ltrace|busybox|exec|command|builtin|xargs|eval)\\s+(?:-[a-z]+\\s+)*)*';

/** An optional directory before a command name, such as `/usr/bin/`. */
const COMMAND_PATH = '(?:[a-z0-9_./~-]*/)?';

/**
 * End of a common command name after a separator at paranoia level 1: the end of the value
 * or another separator, so `;ps` and `;env|` match but `; more than` does not.
 */
const COMMON_COMMAND_END = '(?:\\s*$|\\s*[;&|<>\\x60)])';

/** Argument after a common command name at paranoia level 2: an option, path or quoted word. */
const COMMON_COMMAND_ARGUMENT = '\\s+[-/~.$"\']';

/** End of a command name: the end of the value, a blank or a shell operator. */
const COMMAND_END = '(?:$|[\\s;&|<>()\\x60])';

/** Argument and cookie values, without their names. */
const VALUES: readonly TargetKind[] = ['query', 'body', 'cookie'];

const distinctive = DISTINCTIVE_COMMANDS.join('|');
const common = COMMON_COMMANDS.join('|');

/** Command injection rules for Unix shells and Windows `cmd` / PowerShell. */
export const RCE_RULES: WafRule[] = [
  patternRule({
    id: 932100,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Unix or Windows command after a shell separator or substitution',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: COMMAND_START_NEEDLES,
    pattern: `${COMMAND_START}\\s*${WRAPPERS}${COMMAND_PATH}(?:(?:${distinctive})${COMMAND_END}|(?:${common})${COMMON_COMMAND_END})`,
  }),
  patternRule({
    id: 932101,
    family: 'rce',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'Common command with an option or path after a shell separator, such as ; cat /x',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: COMMAND_START_NEEDLES,
    pattern: `${COMMAND_START}\\s*${WRAPPERS}${COMMAND_PATH}(?:${common})${COMMON_COMMAND_ARGUMENT}`,
  }),
  patternRule({
    id: 932105,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Value that starts with a distinctive command, or a common one with an option or path',
    targets: VALUES,
    transforms: SHELL_DECODE,
    pattern: `^\\s*${WRAPPERS}${COMMAND_PATH}(?:(?:${distinctive})(?:\\s|[;&|<>()\\x60])|(?:${common})\\s+[-/~.$])`,
  }),
  patternRule({
    id: 932110,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Command after a shell separator in a logged header such as User-Agent or Referer',
    targets: ['header'],
    headers: COMMAND_HEADERS,
    transforms: SHELL_DECODE,
    needles: COMMAND_START_NEEDLES,
    pattern: `${COMMAND_START}\\s*${WRAPPERS}${COMMAND_PATH}(?:${distinctive}|${common})(?:\\s*$|\\s*[&|<>\\x60])`,
  }),
  patternRule({
    id: 932120,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'PowerShell cmdlet or download cradle',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: ['-', 'iex', 'iwr', 'downloadstring', 'frombase64string'],
    pattern:
      '\\b(?:invoke-(?:webrequest|expression|restmethod|wmimethod|command|item|shellcode|mimikatz)|new-object\\s+(?:system\\.)?net\\.webclient|start-process|set-executionpolicy|-encodedcommand|-executionpolicy\\s+bypass|downloadstring|downloadfile|frombase64string|(?:^|[;|&(]\\s*)(?:iex|iwr|irm|iwmi)\\s)',
  }),
  patternRule({
    id: 932130,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Shell expansion: $(...), ${...}, $[...], process substitution, glob brackets in paths',
    targets: [...VALUES, 'header'],
    headers: COMMAND_HEADERS,
    transforms: DECODE,
    needles: ['$(', '${', '$[', '<(', '>(', '[', '$(('],
    pattern:
      '\\$\\(|\\$\\{[^}]+\\}|\\$\\[|[<>]\\(\\s*[a-z]|/[a-z.*?-]*\\[[!^]?[a-z0-9/?*-]+\\][a-z/]|/\\[[a-z0-9/?*!^-]+\\][a-z/]|/\\?+/',
  }),
  patternRule({
    id: 932140,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Windows batch FOR or IF command',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: ['for', 'if'],
    pattern:
      '(?:^|[;&|(]\\s*)for\\s+(?:/[a-z]\\s+)*(?:[a-z]:\\S*\\s+)?(?:\\S+\\s+){0,3}%%?\\S+\\s+in\\s*\\(' +
      '|(?:^|[;&|(]\\s*)if\\s*(?:/i\\s*)?(?:not\\s+)?(?:exist|defined|errorlevel|cmdextversion)\\b' +
      '|(?:^|[;&|(]\\s*)if(?:\\s+|\\s*/i\\s+)(?:not\\s+)?[^=\\n]{1,40}?(?:==|\\s(?:equ|neq|lss|leq|gtr|geq)\\s)',
  }),
  patternRule({
    id: 932150,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Shell path or variable: /bin/sh, bin/<tool>, $SHELL, /dev/tcp',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: ['bin/', 'shell', '/dev/', '/tcp/', '/udp/'],
    pattern:
      '(?:^|[\\s;&|(/])(?:usr/(?:local/)?)?s?bin/[a-z]|\\$\\{?shell\\b|/dev/(?:tcp|udp)/|/(?:tcp|udp)/[0-9]',
  }),
  patternRule({
    id: 932170,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Shellshock function definition "() {"',
    targets: [...ARGS, 'header', 'path'],
    transforms: DECODE,
    needles: ['('],
    pattern: '\\(\\s*\\)\\s*\\{',
  }),
  patternRule({
    id: 932175,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Shell alias definition',
    targets: ARGS,
    transforms: SHELL_DECODE,
    needles: ['alias'],
    pattern: '(?:^|[;&|]\\s*)alias\\s+(?:[-+][a-z+]*\\s+)*[^\\s=]+=',
  }),
  patternRule({
    id: 932180,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Upload of a file name that configures a server or tool',
    targets: ['filename'],
    transforms: DECODE,
    pattern:
      '(?:^|/)(?:\\.boto|mtrr|acpi|\\.htaccess|\\.htpasswd|\\.user\\.ini|php\\.ini|web\\.config|\\.env|\\.bashrc|\\.profile|authorized_keys|wp-config[._-]?php|settings\\.\\s*php|config\\.ya?ml|\\.npmrc|\\.git(?:config|ignore)?|\\.ssh)\\s*(?:\\.[a-z0-9]+)?\\s*$',
  }),
  patternRule({
    id: 932270,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Tilde expansion of the directory stack (~+, ~-)',
    targets: ARGS,
    transforms: DECODE,
    needles: ['~'],
    pattern: '^~[+-][0-9]*$',
  }),
  patternRule({
    id: 932280,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Brace expansion that builds a command, such as {,ip,a} or c{a,oun}t',
    targets: ARGS,
    transforms: DECODE,
    needles: ['{'],
    pattern: '\\{,[a-z0-9]|[a-z]\\{[a-z0-9]*,[a-z0-9,]*\\}[a-z]',
  }),
  patternRule({
    id: 932330,
    family: 'rce',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Shell history expansion such as !-1',
    targets: ARGS,
    transforms: DECODE,
    needles: ['!'],
    pattern: '!-[0-9]|(?:^|[;&|\\s])!!(?:$|[\\s;&|])',
  }),
];
