import type ipaddr from 'ipaddr.js';

import { ipKey, parseListedIp } from '../ip-address.js';
import { ListFileError, type ListFile } from '../reloading-list.js';

// Lines of Tor's exit list format (check.torproject.org/exit-addresses) that carry no address.
const ENTRY_KEYWORDS = new Set(['ExitNode', 'Published', 'LastStatus']);

/**
 * Returns the address key of one line, null for a line without an address, or throws
 * ListFileError.
 */
function addressOfLine(content: string, file: string, line: number): string | null {
  const [first = '', second, ...rest] = content.split(/\s+/);
  if (ENTRY_KEYWORDS.has(first)) return null;
  let text: string | undefined;
  if (first === 'ExitAddress') text = second;
  else if (second === undefined) text = first;
  if (text === undefined || (first !== 'ExitAddress' && rest.length > 0)) {
    throw new ListFileError(
      file,
      line,
      'expected one IP address, or an "ExitAddress <ip> <date> <time>" line',
    );
  }
  const parsed = parseListedIp(text);
  if (!parsed) {
    throw new ListFileError(file, line, `"${text.slice(0, 64)}" is not an IPv4 or IPv6 address`);
  }
  // An IPv4-mapped IPv6 entry names the IPv4 client it maps, as client addresses are compared.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return ipKey((parsed as ipaddr.IPv6).toIPv4Address());
  }
  return ipKey(parsed);
}

/**
 * Parses Tor exit lists into a set of address keys (see `ipKey`). Two formats are accepted,
 * also mixed: one address per line (check.torproject.org/torbulkexitlist), and Tor's exit list
 * format with `ExitNode`, `Published`, `LastStatus` and `ExitAddress <ip> <date> <time>` lines
 * (check.torproject.org/exit-addresses). Blank lines and `#` comments are skipped.
 *
 * @throws ListFileError naming the file and line of the first line that is neither.
 */
export function parseTorExitList(files: ListFile[]): ReadonlySet<string> {
  const addresses = new Set<string>();
  for (const { path, text } of files) {
    const lines = text.split('\n');
    for (let index = 0; index < lines.length; index += 1) {
      const content = (lines[index] ?? '').trim();
      if (content === '' || content.startsWith('#')) continue;
      const key = addressOfLine(content, path, index + 1);
      if (key !== null) addresses.add(key);
    }
  }
  return addresses;
}
