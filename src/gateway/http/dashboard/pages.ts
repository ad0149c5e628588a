/**
 * The dashboard's HTML: small shells that its ES modules (assets/) fill
 * from the API. Every value put into the markup here goes through
 * escapeHtml; the modules set text with textContent only.
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const ASSETS = '/dashboard/assets';

interface PageOptions {
  title: string;
  body: string;
  /** The logged-in user, for the header with the logout button. */
  user?: string;
  /** The session's CSRF token, for the modules (a meta tag) and the logout form. */
  csrf?: string;
  /** Modules of assets/ the page runs. */
  scripts?: string[];
  /** Styles of assets/ besides the dashboard's own. */
  styles?: string[];
}

function page(options: PageOptions): string {
  const header = options.user
    ? `<header><a class="brand" href="/dashboard/">Magrathea</a><span class="who">${escapeHtml(options.user)}</span>` +
      `<form method="post" action="/dashboard/logout"><input type="hidden" name="csrf" value="${escapeHtml(options.csrf ?? '')}"><button type="submit">Log out</button></form></header>`
    : `<header><span class="brand">Magrathea</span></header>`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ...(options.csrf ? [`<meta name="csrf-token" content="${escapeHtml(options.csrf)}">`] : []),
    `<title>${escapeHtml(options.title)} · Magrathea</title>`,
    // No icon: else the browser asks /favicon.ico, which is the API's (401) and not the dashboard's.
    '<link rel="icon" href="data:,">',
    ...(options.styles ?? []).map((s) => `<link rel="stylesheet" href="${ASSETS}/${s}">`),
    `<link rel="stylesheet" href="${ASSETS}/dashboard.css">`,
    ...(options.scripts ?? []).map((s) => `<script type="module" src="${ASSETS}/${s}"></script>`),
    '</head>',
    '<body>',
    header,
    `<main>${options.body}</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The login form; `error`: why the last attempt was refused. */
export function loginPage(error?: string): string {
  return page({
    title: 'Log in',
    body:
      '<h1>Log in</h1>' +
      '<p>With an API token of this gateway (<code>ssh magrathea tokens:create --expires 30d</code>): the dashboard acts as its user, within its scopes.</p>' +
      (error ? `<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : '') +
      '<form method="post" action="/dashboard/login" class="login">' +
      '<label for="token">Token</label> <input id="token" name="token" type="password" autocomplete="off" required size="50" placeholder="mg_...">' +
      ' <button type="submit">Log in</button></form>',
  });
}

export function appsPage(user: string, csrf: string): string {
  return page({ title: 'Apps', user, csrf, scripts: ['apps.js'], body: '<h1>Apps</h1><p class="error" id="error" hidden></p><ul id="apps" class="apps"></ul>' });
}

export function appPage(user: string, csrf: string, app: string): string {
  const name = escapeHtml(app);
  return page({
    title: app,
    user,
    csrf,
    scripts: ['app.js'],
    styles: ['vendor/uPlot.min.css'],
    body:
      `<h1 id="app" data-app="${name}">${name}</h1>` +
      '<p class="error" id="error" hidden></p>' +
      '<section><h2>Live</h2><table id="live"><thead><tr><th>environment</th><th>cluster</th><th>release</th><th>commit</th><th>since</th></tr></thead><tbody></tbody></table></section>' +
      '<section><h2>Deploys</h2><p><button type="button" id="deploy">Deploy again</button> <span class="note">the head of the default branch, to every cluster of its environment; a deploy or rollback started anywhere else (a push, the command line) shows here too</span></p>' +
      '<table id="deploys"><thead><tr><th>job</th><th>kind</th><th>environment</th><th>release or ref</th><th>by</th><th>state</th><th>since</th></tr></thead><tbody></tbody></table>' +
      '<div id="deploy-view" class="deploy-view" hidden><h3 class="deploy-title"></h3><div class="deploy-phases"></div>' +
      '<table class="deploy-result" hidden><thead><tr><th>cluster</th><th>outcome</th><th>release</th><th>serving</th><th>seconds</th><th>error</th></tr></thead><tbody></tbody></table>' +
      '<pre class="deploy-lines"></pre></div></section>' +
      '<section><h2>Releases</h2><table id="releases"><thead><tr><th>environment</th><th>release</th><th>status</th><th>commit</th><th>created</th><th>by</th><th>live on</th><th>roll back</th></tr></thead><tbody></tbody></table></section>' +
      '<section><h2>Usage <small id="usage-window"></small></h2>' +
      '<p><label for="since">Over the last</label> <select id="since"><option value="24h" selected>24 hours</option><option value="7d">7 days</option><option value="30d">30 days</option></select></p>' +
      '<div class="charts"><figure><figcaption>Requests per hour, per cluster</figcaption><div id="chart-requests"></div></figure>' +
      '<figure><figcaption>Bytes per hour, per cluster</figcaption><div id="chart-bytes"></div></figure>' +
      '<figure><figcaption>Status classes per hour, every cluster</figcaption><div id="chart-status"></div></figure></div>' +
      '<h3>Disk per host</h3><table id="disk"><thead><tr><th>cluster</th><th>host</th><th>environment</th><th>bytes</th><th></th></tr></thead><tbody></tbody></table>' +
      '<h3>Database per cluster</h3><table id="databases"><thead><tr><th>cluster</th><th>db host</th><th>database</th><th>size</th><th></th></tr></thead><tbody></tbody></table></section>' +
      '<section><h2>Logs</h2><p><button type="button" id="logs-last">Last 50 lines</button> <button type="button" id="logs-follow">Follow</button> <button type="button" id="logs-stop" hidden>Stop</button></p>' +
      '<pre id="logs" hidden></pre></section>' +
      '<section><h2>Config vars</h2><p class="note">Values are masked: <code>ssh magrathea config:show APP --reveal</code> shows them.</p>' +
      '<table id="vars"><thead><tr><th>name</th><th>for</th><th>value</th></tr></thead><tbody></tbody></table>' +
      '<div id="effective"></div></section>',
  });
}

/** A page that says why not (403, 404...), with a way back. */
export function errorPage(title: string, message: string, user?: string, csrf?: string): string {
  return page({
    title,
    ...(user ? { user } : {}),
    ...(csrf ? { csrf } : {}),
    body: `<h1>${escapeHtml(title)}</h1><p class="error" id="error">${escapeHtml(message)}</p><p><a href="/dashboard/">Back to the apps</a></p>`,
  });
}
