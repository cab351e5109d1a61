/**
 * Where this service may send credentials or personal data: https anywhere, plain http only to a
 * loopback host (local development). Dependency-free, so the Node scripts can import it too.
 */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * https, or plain http to a loopback host; never credentials in the URL. Anything else would send
 * a bearer token, signed change data or Firstup's deliveries across networks in clear.
 */
export function isHttpsOrLoopback(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
}
