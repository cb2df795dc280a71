/**
 * Product tokens of the default User-Agent of command-line HTTP tools (curl, Wget, HTTPie),
 * HTTP libraries of scripting languages (python-requests, Python-urllib, python-httpx, aiohttp,
 * Scrapy, Go-http-client, Java, Java-http-client, Apache-HttpClient, okhttp, libwww-perl) and
 * headless browsers (HeadlessChrome, PhantomJS), matched without regard to case. A token starts
 * the header or follows a space, `(` or `;`, and is followed by `/version`.
 * People use the admin API from a browser, so these clients on anonymous admin requests are
 * almost always scripts: credential stuffing, scanners and scrapers.
 * NOTE: Node's built-in fetch (`node`) and undici are not listed, so scripts that keep their
 * default User-Agent are not challenged.
 */
const AUTOMATION_PATTERN =
  /(?:^|[\s(;])(?:curl|wget|httpie|python-requests|python-urllib|python-httpx|aiohttp|scrapy|go-http-client|java|java-http-client|apache-httpclient|okhttp|libwww-perl|headlesschrome|phantomjs)\//i;

/** Returns true when `userAgent` names an HTTP tool, scripting library or headless browser. */
export function isAutomationUserAgent(userAgent: string | undefined): boolean {
  return typeof userAgent === 'string' && AUTOMATION_PATTERN.test(userAgent);
}
