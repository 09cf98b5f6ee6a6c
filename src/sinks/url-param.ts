/**
 * The `url` param of a network sink, checked at load time: it parses, and its protocol is one the
 * sink speaks. Returns the parsed URL (for further checks) and the problems, each naming the key.
 */
export function checkUrlParam(raw: unknown, protocols: readonly string[], expected: string): { url: URL | undefined; problems: string[] } {
  const text = typeof raw === 'string' ? raw : '';
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    return { url: undefined, problems: [`url: ${JSON.stringify(text)} is not a URL (expected ${expected})`] };
  }
  if (!protocols.includes(url.protocol)) {
    return { url, problems: [`url: ${JSON.stringify(text)}: protocol must be ${protocols.map((p) => `${p}//`).join(' or ')}, got ${url.protocol}//`] };
  }
  return { url, problems: [] };
}
