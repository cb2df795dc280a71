/**
 * Checks whether `hostname` (as `URL.hostname` gives it) names this machine: `localhost`, an IPv4
 * address in 127.0.0.0/8, or `[::1]`.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  const octets = hostname.split('.');
  return (
    octets.length === 4 &&
    octets[0] === '127' &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)
  );
}
