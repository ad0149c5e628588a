import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { readCookie, sameOrigin, sessionCookie } from './web.js';
import { escapeHtml } from './pages.js';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('the dashboard: same origin, cookies, escaping', () => {
  it('takes a request as same-origin only when what the browser says agrees with the host', () => {
    const host = '127.0.0.1:5000';
    expect(sameOrigin(request({ host, origin: 'http://127.0.0.1:5000', 'sec-fetch-site': 'same-origin' }))).toBe(true);
    expect(sameOrigin(request({ host, origin: 'http://127.0.0.1:5000' }))).toBe(true);
    expect(sameOrigin(request({ host, 'sec-fetch-site': 'same-origin' }))).toBe(true);
    for (const headers of <Record<string, string>[]>[
      { host },
      { host, origin: 'http://evil.example' },
      { host, origin: 'http://127.0.0.1:5001' },
      { host, origin: 'null' },
      { host, origin: 'file://127.0.0.1:5000' },
      { host, origin: 'http://127.0.0.1:5000', 'sec-fetch-site': 'cross-site' },
      { host, origin: 'http://127.0.0.1:5000', 'sec-fetch-site': 'same-site' },
      { host, 'sec-fetch-site': 'none' },
      { origin: 'http://127.0.0.1:5000' },
    ]) {
      expect([headers, sameOrigin(request(headers))]).toEqual([headers, false]);
    }
  });

  it('sets an HttpOnly, SameSite=Strict cookie under /dashboard; Secure behind a TLS proxy; cleared with no id', () => {
    expect(sessionCookie(request({}), 'abc')).toBe('magrathea_session=abc; Path=/dashboard; HttpOnly; SameSite=Strict');
    expect(sessionCookie(request({ 'x-forwarded-proto': 'https' }), 'abc')).toMatch(/; Secure$/);
    expect(sessionCookie(request({}), undefined)).toBe('magrathea_session=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0');
    expect(readCookie(request({ cookie: 'a=1; magrathea_session=xyz; b=2' }), 'magrathea_session')).toBe('xyz');
    expect(readCookie(request({ cookie: 'xmagrathea_session=1' }), 'magrathea_session')).toBeUndefined();
  });

  it('escapes markup', () => {
    expect(escapeHtml(`<script>"a" & 'b'</script>`)).toBe('&#60;script&#62;&#34;a&#34; &#38; &#39;b&#39;&#60;/script&#62;');
  });
});
