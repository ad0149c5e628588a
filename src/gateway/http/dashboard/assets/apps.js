// The apps list: the apps the user may see, as GET /v1/apps answers.
import { api, el, showError } from './common.js';

const list = document.getElementById('apps');
try {
  const apps = await api('/v1/apps');
  if (apps.length === 0) list.append(el('li', {}, 'No app yet: ssh magrathea apps:create NAME'));
  for (const app of apps) list.append(el('li', {}, el('a', { href: `/dashboard/apps/${encodeURIComponent(app)}` }, app)));
} catch (e) {
  showError(e.message);
}
document.body.dataset.ready = 'true';
