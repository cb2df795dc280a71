import type { WafRule } from '../rule.js';
import { JAVA_BASE64_RULES } from './java-base64.rules.js';
import { JAVA_RULES } from './java.rules.js';
import { LFI_RULES } from './lfi.rules.js';
import { NODE_RULES } from './node.rules.js';
import { PHP_RULES } from './php.rules.js';
import { PROTOCOL_ATTACK_RULES } from './protocol-attack.rules.js';
import { PROTOCOL_RULES } from './protocol.rules.js';
import { RCE_PARANOID_RULES } from './rce-paranoid.rules.js';
import { RCE_RULES } from './rce.rules.js';
import { RFI_RULES } from './rfi.rules.js';
import { SCANNER_RULES } from './scanner.rules.js';
import { SESSION_RULES } from './session.rules.js';
import { SQLI_PARANOID_RULES } from './sqli-paranoid.rules.js';
import { SQLI_RULES } from './sqli.rules.js';
import { SSRF_RULES } from './ssrf.rules.js';
import { XSS_RULES } from './xss.rules.js';

/** Built-in rules of every family and paranoia level. */
export const DEFAULT_RULES: readonly WafRule[] = [
  ...PROTOCOL_RULES,
  ...PROTOCOL_ATTACK_RULES,
  ...SCANNER_RULES,
  ...LFI_RULES,
  ...RFI_RULES,
  ...SSRF_RULES,
  ...RCE_RULES,
  ...RCE_PARANOID_RULES,
  ...PHP_RULES,
  ...JAVA_RULES,
  ...JAVA_BASE64_RULES,
  ...NODE_RULES,
  ...XSS_RULES,
  ...SQLI_RULES,
  ...SQLI_PARANOID_RULES,
  ...SESSION_RULES,
];
