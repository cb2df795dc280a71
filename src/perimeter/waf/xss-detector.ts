import { readAttributeContext, readTags, type HtmlAttribute } from './xss-tokenizer.js';

/** Tags that run script or load active content by themselves. */
const DANGEROUS_TAGS: ReadonlySet<string> = new Set([
  'script',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'meta',
  'base',
  'link',
  'style',
  'isindex',
  'import',
  'bgsound',
  'layer',
  'ilayer',
  'vmlframe',
  'handler',
  'listener',
  'xss',
  'portal',
  'svg:script',
  'x:script',
]);

/** Attributes whose value is loaded or navigated to as a URL. */
const URL_ATTRIBUTES: ReadonlySet<string> = new Set([
  'href',
  'src',
  'action',
  'formaction',
  'data',
  'xlink:href',
  'background',
  'dynsrc',
  'lowsrc',
  'poster',
  'code',
  'codebase',
  'to',
  'from',
  'values',
  'by',
  'content',
  'folder',
  'srcset',
  'ping',
  'manifest',
  'icon',
  'profile',
  'longdesc',
  'archive',
  'classid',
  'datasrc',
  'xmlns',
]);

/** Common event-handler attribute names, checked when the value carries no call syntax. */
const EVENT_HANDLERS: ReadonlySet<string> = new Set(
  [
    'abort',
    'activate',
    'afterprint',
    'afterscriptexecute',
    'animationend',
    'animationiteration',
    'animationstart',
    'auxclick',
    'beforecopy',
    'beforecut',
    'beforeinput',
    'beforepaste',
    'beforeprint',
    'beforescriptexecute',
    'beforeunload',
    'begin',
    'blur',
    'bounce',
    'canplay',
    'canplaythrough',
    'change',
    'click',
    'close',
    'contextmenu',
    'copy',
    'cuechange',
    'cut',
    'dblclick',
    'drag',
    'dragend',
    'dragenter',
    'dragleave',
    'dragover',
    'dragstart',
    'drop',
    'durationchange',
    'end',
    'ended',
    'error',
    'finish',
    'focus',
    'focusin',
    'focusout',
    'hashchange',
    'input',
    'invalid',
    'keydown',
    'keypress',
    'keyup',
    'load',
    'loadeddata',
    'loadedmetadata',
    'loadstart',
    'message',
    'mousedown',
    'mouseenter',
    'mouseleave',
    'mousemove',
    'mouseout',
    'mouseover',
    'mouseup',
    'mousewheel',
    'pagehide',
    'pageshow',
    'paste',
    'pause',
    'play',
    'playing',
    'pointerdown',
    'pointerenter',
    'pointerleave',
    'pointermove',
    'pointerout',
    'pointerover',
    'pointerup',
    'popstate',
    'progress',
    'propertychange',
    'readystatechange',
    'repeat',
    'reset',
    'resize',
    'scroll',
    'search',
    'seeked',
    'seeking',
    'select',
    'selectstart',
    'show',
    'start',
    'storage',
    'submit',
    'toggle',
    'touchend',
    'touchmove',
    'touchstart',
    'transitionend',
    'unload',
    'volumechange',
    'waiting',
    'wheel',
    'filterchange',
    'help',
    'losecapture',
    'move',
    'rowenter',
    'rowexit',
  ].map((name) => `on${name}`),
);

/** Strips characters browsers ignore inside a URL scheme, such as tabs, newlines and controls. */
function compactScheme(value: string): string {
  let out = '';
  for (let i = 0; i < value.length && out.length < 32; i++) {
    const code = value.charCodeAt(i);
    if (code > 32 && code !== 0x7f) out += value[i];
  }
  return out;
}

/** Reports whether a URL starts with a scheme that runs script or renders attacker markup. */
export function isScriptUrl(value: string): boolean {
  const compact = compactScheme(value);
  if (
    /* script schemes */ ['javascript:', 'vbscript:', 'livescript:', 'jscript:', 'mocha:'].some(
      (s) => compact.startsWith(s),
    )
  ) {
    return true;
  }
  if (!compact.startsWith('data:')) return false;
  return !(
    /* plain images are harmless */ [
      'data:image/png',
      'data:image/jpeg',
      'data:image/gif',
      'data:image/webp',
    ].some((s) => compact.startsWith(s))
  );
}

function isEventHandler(name: string): boolean {
  if (!name.startsWith('on') || name.length < 5) return false;
  for (let i = 2; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 97 || code > 122) return false;
  }
  return true;
}

function hasCallSyntax(value: string): boolean {
  return value.includes('(') || value.includes('`') || value.includes('=') || value.includes('&#');
}

function isDangerousStyle(value: string): boolean {
  return ['expression(', 'javascript:', 'behavior:', '-moz-binding', '@import', 'vbscript:'].some(
    (s) => value.includes(s),
  );
}

/** Reports whether an attribute runs script; `inTag` is true for attributes of a real tag. */
function isDangerousAttribute(attribute: HtmlAttribute, inTag: boolean): boolean {
  const { name, value } = attribute;
  if (value === undefined) return false;
  if (isEventHandler(name) && (inTag || EVENT_HANDLERS.has(name) || hasCallSyntax(value)))
    return true;
  if (URL_ATTRIBUTES.has(name) && isScriptUrl(value)) return true;
  if (name === 'style' && isDangerousStyle(value)) return true;
  return name === 'srcdoc' || (name === 'xmlns:xlink' && isScriptUrl(value));
}

/**
 * Reports whether `value` (lower-cased, entity-decoded) carries XSS. It reads the value as
 * HTML text, looking for dangerous tags and attributes, then as the continuation of an
 * attribute value in each quote style, where an injected `" onfocus=...` adds a handler.
 * A value that is itself a script URL, such as `javascript:alert(1)`, also counts.
 */
export function detectXss(value: string): boolean {
  if (isScriptUrl(value) && !value.startsWith('data:')) return true;
  if (value.includes('<')) {
    for (const tag of readTags(value)) {
      if (DANGEROUS_TAGS.has(tag.name)) return true;
      if (tag.attributes.some((attribute) => isDangerousAttribute(attribute, true))) return true;
    }
  }
  if (!value.includes('=')) return false;
  for (const quote of ['"', "'", ''] as const) {
    if (quote !== '' && !value.includes(quote)) continue;
    if (
      readAttributeContext(value, quote).some((attribute) => isDangerousAttribute(attribute, false))
    ) {
      return true;
    }
  }
  return false;
}
