import { SEVERITY, re2CaseSensitive, type WafRule } from '../rule.js';
import { ARGS_AND_HEADERS, DECODE, patternRule } from './common.js';

/** Classes and packages that Java deserialization and expression-language attacks name. */
const JAVA_CLASSES = [
  'java\\.(?:lang|io|net|nio|util\\.(?:zip|jar|concurrent)|beans|rmi|security|sql)\\.',
  'javax\\.(?:script|naming|management|el|xml\\.transform)',
  'com\\.opensymphony\\.xwork2',
  'com\\.sun\\.(?:org\\.apache|jndi|rowset)',
  'org\\.apache\\.(?:commons\\.(?:collections|beanutils|fileupload)|xalan|struts2?|catalina|tomcat|naming|log4j)',
  'org\\.springframework\\.(?:context|beans|expression|web)',
  'org\\.codehaus\\.groovy',
  'ognl\\.ognlcontext',
  '@ognl',
  'freemarker\\.template',
];

/** Java injection rules: process execution, gadget classes, Log4Shell lookups and serialized objects. */
export const JAVA_RULES: WafRule[] = [
  patternRule({
    id: 944100,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Java process execution class: Runtime or ProcessBuilder',
    targets: ARGS_AND_HEADERS,
    transforms: DECODE,
    needles: ['runtime', 'processbuilder', 'processimpl'],
    pattern:
      '\\bjava\\b[a-z.]*\\.(?:runtime|processbuilder|processimpl)|\\b(?:runtime\\.getruntime|new\\s+processbuilder|processbuilder\\.(?:start|evil)|processimpl)',
  }),
  patternRule({
    id: 944110,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Java deserialization gadget class name',
    targets: ARGS_AND_HEADERS,
    transforms: DECODE,
    needles: [
      'transformer',
      'closure',
      'factory',
      'lazymap',
      'templatesimpl',
      'badattributevalueexpexception',
      'priorityqueue',
    ],
    pattern:
      '(?:clonetransformer|forclosure|instantiatefactory|instantiatetransformer|invokertransformer|prototypeclonefactory|prototypeserializationfactory|whileclosure|chainedtransformer|constanttransformer|lazymap|templatesimpl|badattributevalueexpexception|priorityqueue)',
  }),
  patternRule({
    id: 944130,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Fully qualified Java class from a package used in attacks',
    targets: ARGS_AND_HEADERS,
    transforms: DECODE,
    needles: ['java', 'com.', 'org.', 'ognl', 'freemarker'],
    pattern: `(?:${JAVA_CLASSES.join('|')})`,
  }),
  patternRule({
    id: 944140,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Upload of a Java server page or script file name',
    targets: ['filename'],
    transforms: DECODE,
    needles: ['.js', '.htm', '.sh', '.war', '.jar', '.class'],
    pattern: '\\.(?:jspx?|jspf|jsw|jsv|war|jar|class|shtml|sh)\\s*$',
  }),
  patternRule({
    id: 944150,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Log4j lookup: ${jndi:...}, ${env:...}, ${${...}} and obfuscated forms',
    targets: [...ARGS_AND_HEADERS, 'path'],
    transforms: DECODE,
    needles: ['${', '$&lbrace', '$%7b'],
    pattern:
      '\\$\\{[^}]{0,60}(?:jndi|ldaps?|rmi|dns|iiop|corba|nds|nis|lower|upper|env|sys|java|main|date|ctx|bundle|docker|k8s|spring|log4j|web|base64|event|sd|map|marker):|\\$\\{\\s*\\$\\{|\\$&lbrace',
  }),
  patternRule({
    id: 944160,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Expression-language or OGNL evaluation of Java methods',
    targets: ARGS_AND_HEADERS,
    transforms: DECODE,
    needles: [
      'getclass',
      'getruntime',
      'forname',
      'classloader',
      '#_memberaccess',
      '@java',
      'getmethod',
      'newinstance',
    ],
    pattern:
      '\\.getclass\\(\\)|getruntime\\(\\)|class\\.forname|classloader|#_memberaccess|@java\\.lang|getmethod\\(|newinstance\\(',
  }),
  {
    id: 944200,
    family: 'java',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Java serialized object: magic bytes AC ED 00 05 raw, hex or base64',
    scope: 'value',
    targets: [...ARGS_AND_HEADERS, 'body'],
    transforms: ['urlDecode'],
    needles: ['\xac\xed', 'aced0005', 'ro0ab', 'kztaau', 'cs7qaf'],
    test: re2CaseSensitive('\\xac\\xed\\x00\\x05|(?i:aced0005)|rO0AB|KztAAU|Cs7QAF'),
  },
];
