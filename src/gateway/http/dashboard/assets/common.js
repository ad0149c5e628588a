// What every page of the dashboard shares: calls to the API through the session, and building elements as text.

/** The session's CSRF token, sent with every POST. */
export const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

/** An element with attributes and children; strings become text nodes (never markup). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'className') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

/** A call of the API (a path of /v1) as the session's user: its JSON, or an Error carrying the status and the API's message. */
export async function api(path, options = {}) {
  const response = await fetch(`/dashboard/api${path}`, {
    ...options,
    headers: { Accept: 'application/json', ...(options.body ? { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf } : {}), ...(options.headers ?? {}) },
    credentials: 'same-origin',
  });
  if (response.status === 401) {
    window.location.assign('/dashboard/login');
    throw new Error('the session ended: log in again');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error ?? `HTTP ${response.status}`), { status: response.status });
  return body;
}

/**
 * A streamed call (a rollback): each line's object handed to `onLine` as
 * it comes; resolves with the exit status.
 */
export async function apiStream(path, body, onLine) {
  const response = await fetch(`/dashboard/api${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (!response.ok) {
    const refused = await response.json().catch(() => ({}));
    throw new Error(refused.error ?? `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  let exit;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines.filter(Boolean)) {
      const object = JSON.parse(line);
      if ('exit' in object) exit = object.exit;
      onLine(object);
    }
  }
  return exit;
}

export function showError(message) {
  const box = document.getElementById('error');
  box.textContent = message;
  box.hidden = false;
}

/** `0 B`, `1.5 KiB`, as the command line prints sizes. */
export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
