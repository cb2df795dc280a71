import { SEVERITY, re2CaseSensitive, type WafRule } from '../rule.js';
import { ARGS, ARGS_AND_HEADERS, DECODE, SQL_DECODE, patternRule } from './common.js';

/** Node.js, JavaScript prototype pollution and server-side template injection rules. */
export const NODE_RULES: WafRule[] = [
  patternRule({
    id: 934100,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Node.js code injection: process, child_process, require, constructor chains, serialized functions',
    targets: ARGS_AND_HEADERS,
    transforms: SQL_DECODE,
    needles: [
      'process',
      'require',
      'constructor',
      '_$$nd_func$$_',
      'function',
      'console',
      'module',
    ],
    pattern:
      '\\bprocess\\s*(?:\\.\\s*(?:env|mainmodule|binding|kill|exit|spawn|dlopen|cwd|chdir)\\b|\\[)|child_process|require\\s*\\(|\\.constructor\\s*(?:\\.|\\[)\\s*[\'"]?constructor|_\\$\\$nd_func\\$\\$_|\\bfunction\\s*\\(\\s*\\)\\s*\\{|\\bconsole\\s*(?:\\.\\s*[a-z]+|\\[\\s*[\'"][a-z]+[\'"]\\s*\\])\\s*\\(|\\bmodule\\s*\\.\\s*(?:require|constructor)|\\$[0-9]+:(?:constructor|__proto__)|__js_function',
  }),
  {
    id: 934101,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Base64 of a node-serialize function marker',
    scope: 'value',
    targets: ARGS_AND_HEADERS,
    transforms: ['urlDecode'],
    needles: ['xyqktkrfrlvoqyqk'],
    test: re2CaseSensitive('XyQkTkRfRlVOQyQk'),
  },
  patternRule({
    id: 934130,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'JavaScript prototype pollution through __proto__ or constructor.prototype',
    targets: [...ARGS_AND_HEADERS, 'query-name', 'body-name'],
    transforms: DECODE,
    needles: ['__proto__', 'prototype'],
    pattern: '__proto__|constructor\\s*(?:\\.|\\[\\s*[\'"]?)\\s*prototype',
  }),
  patternRule({
    id: 934150,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Ruby process execution: Process.spawn, Kernel.exec, IO.popen',
    targets: ARGS,
    transforms: DECODE,
    needles: ['process.', 'kernel.', 'io.popen', 'open3'],
    pattern:
      '\\b(?:process\\.spawn|kernel\\.(?:exec|system|spawn|open)|io\\.popen|open3\\.[a-z]+)\\s*\\(',
  }),
  patternRule({
    id: 934160,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Infinite loop meant to block the Node.js event loop: while(true), while(!0)',
    targets: ARGS,
    transforms: DECODE,
    needles: ['while', 'for'],
    pattern:
      '\\bwhile\\s*\\(\\s*(?:true|1|!+\\s*(?:0|false|null|\'\'|""|\\{\\}|\\[\\])|!!\\s*[\\[{\'"a-z0-9]|this|[+-]?infinity|\\+1)\\s*\\)|\\bfor\\s*\\(\\s*;\\s*;\\s*\\)',
  }),
  patternRule({
    id: 934200,
    family: 'node',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Server-side template injection probe: {{...__class__}}, <%= 7*7 %>, #{7*7}, ${7*7}',
    targets: ARGS,
    transforms: DECODE,
    needles: ['{{', '<%', '#{', '${', '__class__', '__mro__', '__globals__'],
    pattern:
      '\\{\\{[^}]*(?:__[a-z]+__|\\bconfig\\b|\\bself\\b|\\brequest\\b|[0-9]\\s*[*+]\\s*[0-9])|<%=?\\s*[0-9]+\\s*[*+]\\s*[0-9]+|#\\{\\s*[0-9]+\\s*[*+]\\s*[0-9]+\\s*\\}|\\$\\{\\s*[0-9]+\\s*[*+]\\s*[0-9]+\\s*\\}|__(?:class|mro|globals|subclasses|builtins)__',
  }),
];
