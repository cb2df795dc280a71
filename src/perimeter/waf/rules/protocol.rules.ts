import { SEVERITY, re2, type WafRule } from '../rule.js';
import { ARGS_AND_HEADERS, patternRule } from './common.js';
import {
  ALLOWED_CHARSETS,
  ALLOWED_CONTENT_TYPES,
  firstHeader,
  hasBody,
  hasInvalidRange,
  joinedHeader,
  parseContentType,
} from './protocol-helpers.js';

/** Request headers that clients have no reason to send to this service. */
const RESTRICTED_HEADERS: ReadonlySet<string> = new Set([
  'proxy',
  'lock-token',
  'if',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-middleware-subrequest',
  'request-range',
  'translate',
]);

/** File extensions of backups, databases and server configuration, which are never served. */
const RESTRICTED_EXTENSIONS =
  'asa|asax|ascx|backup|bak|bat|cdx|cer|cfg|cmd|com|config|conf|cs|csproj|csr|dat|db|dbf|dll|dos|htr|htw|ida|idc|idq|inc|ini|key|licx|lnk|log|mdb|old|pass|pdb|pol|printer|pwd|rdb|resources|resx|sql|swp|sys|vb|vbs|vbproj|vsdisco|webinfo|xsd|xsx|orig|save|sav|tmp';

const isWellFormedContentType = re2(
  '^[^/;\\s]+/[^;\\s]+(?:\\s*;\\s*(?:action|boundary|charset|component|start(?:-info)?|type|version)\\s*=\\s*[\'"\\w.()+,/:=?<>@#*-]+)*\\s*$',
);

const hasUnicodeEscape = re2('\\\\u[0-9a-f]{4}');

/** Removes HTML character references such as `&auml;`, which multipart names may legitimately carry. */
function withoutEntities(value: string): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const semicolon = value[i] === '&' ? value.indexOf(';', i) : -1;
    if (
      semicolon > i + 1 &&
      semicolon - i <= 12 &&
      /* only name characters between */ isEntityBody(value.slice(i + 1, semicolon))
    ) {
      i = semicolon + 1;
      continue;
    }
    out += value[i];
    i++;
  }
  return out;
}

function isEntityBody(body: string): boolean {
  return [...body].every(
    (char) =>
      (char >= 'a' && char <= 'z') ||
      (char >= 'A' && char <= 'Z') ||
      (char >= '0' && char <= '9') ||
      char === '#',
  );
}

const hasUnsafeNameCharacter = re2('[\'";=\\\\]');

/** Results of the Content-Type format check for the most recent distinct values; clients send few. */
const contentTypeCheck = {
  results: new Map<string, boolean>(),
  isWellFormed(value: string): boolean {
    let result = this.results.get(value);
    if (result === undefined) {
      result = isWellFormedContentType(value);
      if (this.results.size >= 256) this.results.clear();
      this.results.set(value, result);
    }
    return result;
  },
};

/** Protocol enforcement rules: methods, framing headers, content types and encodings. */
export const PROTOCOL_RULES: WafRule[] = [
  {
    id: 911100,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Method not allowed by the configuration',
    scope: 'request',
    check: (request, _targets, settings) =>
      settings.allowedMethods.has(String(request.method).toUpperCase()) ? undefined : 'method',
  },
  {
    id: 920160,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Content-Length is not a decimal number',
    scope: 'request',
    check(request) {
      const length = firstHeader(request, 'content-length');
      if (length === undefined) return undefined;
      const trimmed = length.trim();
      return trimmed !== '' && [...trimmed].every((c) => c >= '0' && c <= '9')
        ? undefined
        : 'header:content-length';
    },
  },
  {
    id: 920170,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'GET or HEAD request with a body',
    scope: 'request',
    check(request) {
      if (!['GET', 'HEAD'].includes(String(request.method).toUpperCase())) return undefined;
      const length = Number(firstHeader(request, 'content-length') ?? '0');
      const chunked = firstHeader(request, 'transfer-encoding') !== undefined;
      return (length > 0 || chunked) && hasBody(request) ? 'body' : undefined;
    },
  },
  {
    id: 920190,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.warning,
    description: 'Range header with a range that ends before it starts',
    scope: 'request',
    check(request) {
      const range = firstHeader(request, 'range');
      return range !== undefined && hasInvalidRange(range) ? 'header:range' : undefined;
    },
  },
  {
    id: 920210,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.warning,
    description: 'Connection header that asks both to keep and to close the connection',
    scope: 'request',
    check(request) {
      const connection = joinedHeader(request, 'connection')?.toLowerCase() ?? '';
      return connection.includes('keep-alive') && connection.includes('close')
        ? 'header:connection'
        : undefined;
    },
  },
  {
    id: 920260,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.warning,
    description: 'Full-width Unicode escape %uFFxx in the URL, used to evade decoding',
    scope: 'request',
    check: (request) =>
      `${request.path}?${request.rawQuery}`.toLowerCase().includes('%uff') ? 'query' : undefined,
  },
  patternRule({
    id: 920270,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.error,
    description: 'NUL character in an argument, header or the path',
    targets: [...ARGS_AND_HEADERS, 'path'],
    transforms: ['urlDecode'],
    needles: ['\u0000'],
    pattern: '\\x00',
  }),
  {
    id: 920280,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.warning,
    description: 'Host header missing or empty',
    scope: 'request',
    check: (request) =>
      (firstHeader(request, 'host') ?? '').trim() === '' ? 'header:host' : undefined,
  },
  {
    id: 920420,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Content-Type not in the allowed list',
    scope: 'request',
    check(request) {
      const header = firstHeader(request, 'content-type');
      if (header === undefined || !hasBody(request)) return undefined;
      return ALLOWED_CONTENT_TYPES.has(parseContentType(header).type)
        ? undefined
        : 'header:content-type';
    },
  },
  {
    id: 920470,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Content-Type header that is not a media type with known parameters',
    scope: 'value',
    targets: ['header'],
    headers: ['content-type'],
    transforms: [],
    test: (value) => !contentTypeCheck.isWellFormed(value),
  },
  {
    id: 920480,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Content-Type charset not allowed, given twice, or hidden in another parameter',
    scope: 'request',
    check(request) {
      const header = firstHeader(request, 'content-type');
      if (header === undefined) return undefined;
      const { parameters } = parseContentType(header);
      const charsets = parameters.filter(([name]) => name === 'charset');
      if (charsets.length > 1) return 'header:content-type';
      if (charsets.some(([, value]) => !ALLOWED_CHARSETS.has(value))) return 'header:content-type';
      const hidden = parameters.some(
        ([name, value]) =>
          name !== 'charset' &&
          (value.includes('charset') ||
            (value.includes('/') &&
              name === 'boundary' &&
              !header.toLowerCase().startsWith('multipart/'))),
      );
      return hidden ? 'header:content-type' : undefined;
    },
  },
  patternRule({
    id: 920440,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Request path with a restricted file extension or a backup suffix',
    targets: ['path'],
    transforms: ['lowercase'],
    needles: ['.', '~'],
    pattern: `\\.(?:${RESTRICTED_EXTENSIONS})$|[^/]~$`,
  }),
  {
    id: 920450,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Restricted request header such as Proxy, Request-Range or X-HTTP-Method-Override',
    scope: 'request',
    check(request) {
      const name = Object.keys(request.headers).find((header) => RESTRICTED_HEADERS.has(header));
      return name === undefined ? undefined : `header:${name}`;
    },
  },
  {
    id: 920540,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'JavaScript Unicode escape \\uXXXX in an argument of a non-JSON request, used to hide keywords',
    scope: 'request',
    check(request, targets) {
      if ((firstHeader(request, 'content-type') ?? '').toLowerCase().includes('json'))
        return undefined;
      const escaped = targets.find(
        (target) =>
          (target.kind === 'query' || target.kind === 'body') && hasUnicodeEscape(target.value),
      );
      return escaped?.location;
    },
  },
  {
    id: 920610,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Raw fragment (#) in the request target, which clients never send',
    scope: 'request',
    check: (request) => (String(request.path).includes('#') ? 'path' : undefined),
  },
  {
    id: 920120,
    family: 'protocol',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Multipart field or file name with a quote, semicolon, equals sign or backslash',
    scope: 'value',
    targets: ['part-name', 'filename'],
    transforms: [],
    test: (value) => hasUnsafeNameCharacter(withoutEntities(value)),
  },
];
