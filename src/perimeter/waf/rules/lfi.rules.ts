import { SEVERITY, type WafRule } from '../rule.js';
import { DECODE, EVERYWHERE, ARGS_AND_HEADERS, PATH_DECODE, patternRule } from './common.js';

/** Local file inclusion and path traversal rules. */
export const LFI_RULES: WafRule[] = [
  patternRule({
    id: 930100,
    family: 'lfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Path traversal hidden by encoding: 0x2e / 0x5c forms, "..." or a NUL after dots',
    targets: EVERYWHERE,
    transforms: DECODE,
    needles: ['0x', '...', '.\u0000'],
    pattern:
      '(?:0x2e|0x5c|0x2f)(?:\\.|0x2e|0x2f|0x5c|/|\\\\)|(?:^|[/\\\\])\\.\\.\\.[/\\\\]|\\.\\.?\\x00',
  }),
  patternRule({
    id: 930110,
    family: 'lfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Path traversal: a ".." segment',
    targets: EVERYWHERE,
    transforms: DECODE,
    needles: ['..'],
    pattern: '(?:^|[/\\\\;])\\.\\.(?:[/\\\\;]|$)',
  }),
  patternRule({
    id: 930120,
    family: 'lfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Access to a well-known operating system or credential file',
    targets: ARGS_AND_HEADERS,
    transforms: PATH_DECODE,
    needles: [
      'etc/',
      'proc/',
      'sys/',
      '.ssh',
      'id_',
      'authorized_keys',
      'known_hosts',
      '_history',
      '.bashrc',
      '.ini',
      'system32',
      '.htpasswd',
      '.htaccess',
      'web.config',
      'wp-config',
      '.aws/',
      '.docker/',
      '.kube/',
      '.git/',
      '.npmrc',
      '.netrc',
      '.pgpass',
      '.my.cnf',
      'var/log/',
      '/root/',
    ],
    pattern:
      '(?:etc/(?:passwd|shadow|group|gshadow|hosts|issue|sudoers|subuid|subgid|crontab|master\\.passwd|security|mtab|fstab|motd|hostname|resolv\\.conf|(?:apache2|httpd|nginx|mysql|php[0-9.]*)/)' +
      '|proc/(?:self|version|cpuinfo|meminfo|net/|sched_debug|mounts|interrupts|[0-9]+/)' +
      '|sys/(?:class|kernel|devices|block|bus|firmware|fs/|module|power)' +
      '|\\.ssh/|\\bid_(?:rsa|dsa|ecdsa|ed25519)\\b|authorized_keys|known_hosts|\\.(?:bash|zsh|sh|mysql|psql|python)_history|\\.bashrc' +
      '|boot\\.ini|win\\.ini|system\\.ini|windows/system32|system32/config|\\.htpasswd|\\.htaccess|web\\.config|wp-config\\.php' +
      '|\\.aws/credentials|\\.docker/config|\\.kube/config|\\.git/(?:config|head|index)|\\.npmrc|\\.netrc|\\.pgpass|\\.my\\.cnf|var/log/|^/root/)',
  }),
  patternRule({
    id: 930130,
    family: 'lfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Request path names a restricted file: dotfiles, VCS folders, logs, kernel trees',
    targets: ['path'],
    transforms: PATH_DECODE,
    needles: ['/.', '@fs/', '@id/', '.log', 'sys/', 'proc/', 'docker-compose'],
    pattern:
      '/(?:\\.env(?:\\.|/|$)|\\.git(?:/|$)|\\.svn/|\\.hg/|\\.bzr/|\\.ds_store|\\.htaccess|\\.htpasswd|\\.aiignore|\\.cursorignore|\\.cursorrules|\\.npmrc|\\.dockerenv|\\.idea/|\\.vscode/' +
      '|\\.ssh/|\\.aws/|\\.bash_history|@fs/|@id/|wp-content/[a-z_-]*\\.log|(?:debug|error|errors|access)\\.log$' +
      '|sys/(?:class|kernel|devices|block|bus|firmware|module|power)|proc/(?:self|version|cpuinfo|meminfo|interrupts|net|[0-9]+)|docker-compose\\.ya?ml)',
  }),
  patternRule({
    id: 930140,
    family: 'lfi',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Request path names an AI coding-agent configuration folder',
    targets: ['path'],
    transforms: PATH_DECODE,
    needles: ['/.'],
    pattern:
      '/\\.(?:claude|cursor|continue|aider[a-z._-]*|zed|cline|clinerules|kiro|rovodev|codex|opencode|plandex|n8n|junie|windsurf|roo|gemini|amazonq|augment|goose|tabnine|qodo|openhands|mcp)(?:/|$|\\.)',
  }),
];
