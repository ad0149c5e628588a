// An app's page: what is live where, its deploys followed live, its releases with a rollback per cluster, its usage charts, its databases' sizes, its config vars (masked).
import uPlot from './vendor/uPlot.esm.js';
import { api, apiStream, el, formatBytes, showError } from './common.js';
import { DeployView } from './deploy-view.js';

const app = document.getElementById('app').dataset.app;
const base = `/v1/apps/${encodeURIComponent(app)}`;
/** The charts drawn, by name (uPlot instances): their data is what the page shows. */
const charts = {};
window.magrathea = { charts };

const number = (id) => Number(String(id).replace(/^r/, ''));
const when = (iso) => (iso ? iso.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC') : '');

function fill(table, rows) {
  const body = table.querySelector('tbody');
  body.replaceChildren(...rows);
}

async function showInfo() {
  const info = await api(base);
  const byId = new Map(info.releases.map((r) => [`${r.env} ${r.id}`, r]));
  const instances = Object.entries(info.live)
    .map(([key, id]) => ({ env: key.slice(0, key.indexOf('@')), cluster: key.slice(key.indexOf('@') + 1), id }))
    .sort((a, b) => a.env.localeCompare(b.env) || a.cluster.localeCompare(b.cluster));
  fill(
    document.getElementById('live'),
    instances.length === 0
      ? [el('tr', {}, el('td', { colspan: 5 }, 'Nothing live yet: git push magrathea master'))]
      : instances.map((i) => {
          const release = byId.get(`${i.env} ${i.id}`);
          return el('tr', { 'data-env': i.env, 'data-cluster': i.cluster }, el('td', {}, i.env), el('td', {}, i.cluster), el('td', { className: 'release mono' }, i.id), el('td', { className: 'mono' }, release?.commit.slice(0, 12) ?? ''), el('td', {}, when(release?.updatedAt)));
        }),
  );
  fill(
    document.getElementById('releases'),
    info.releases.map((r) => {
      // A button per cluster of the release's environment where an older, good release could go back live.
      const buttons = instances
        .filter((i) => i.env === r.env && number(r.id) < number(i.id) && r.status !== 'failed' && r.status !== 'building')
        .map((i) => el('button', { type: 'button', 'data-cluster': i.cluster, 'data-release': r.id, onclick: () => rollback(r.env, i.cluster, r.id) }, `${i.cluster}`));
      return el(
        'tr',
        { 'data-release': r.id, 'data-env': r.env },
        el('td', {}, r.env),
        el('td', { className: 'mono' }, r.id),
        el('td', { className: `status-${r.status}` }, r.status, r.message ? el('div', { className: 'note' }, r.message) : ''),
        el('td', { className: 'mono' }, r.commit.slice(0, 12)),
        el('td', {}, when(r.createdAt)),
        el('td', {}, r.requestedBy),
        el('td', {}, r.liveOn.join(', ') || '-'),
        el('td', {}, ...buttons),
      );
    }),
  );
  return instances;
}

function rollback(env, cluster, release) {
  if (!window.confirm(`Put ${release} back live on ${cluster} (${env})?`)) return;
  return act('rollback', `rollback ${app}@${cluster} to ${release}`, `${base}/rollback`, { cluster, release, env });
}

function deploy() {
  if (!window.confirm(`Deploy ${app} again, to every cluster of its environment?`)) return;
  return act('deploy', `deploy ${app}`, `${base}/deploy`, {});
}

/**
 * The deploys of the app, whoever started them (a push, the command line,
 * another page): the list of those queued or running, asked every few
 * seconds while the page is in view, and the one running (else the next)
 * followed in the view from its first event. The page's own deploy or
 * rollback (its buttons) is shown in the same view, from its own stream.
 */
const view = new DeployView(document.getElementById('deploy-view'));
/** Jobs whose end the view showed: not followed again. */
const ended = new Set();
/** The page's own action, or the job followed now. */
let busy = false;
let followed;
const POLL_MS = 3000;

async function act(kind, title, path, body) {
  busy = true;
  followed?.close();
  followed = undefined;
  const buttons = () => [...document.querySelectorAll('#releases button, #deploy')];
  for (const b of buttons()) b.disabled = true;
  view.start(title, undefined, kind);
  try {
    await apiStream(path, body, (object) => view.take(object));
  } catch (e) {
    view.refused(e.message);
  }
  if (view.job) ended.add(view.job);
  await showInfo().catch((e) => showError(e.message));
  for (const b of buttons()) b.disabled = false;
  busy = false;
  void pollDeploys();
}
document.getElementById('deploy').addEventListener('click', deploy);

function follow(job) {
  const release = job.kind === 'deploy' ? `${job.ref.replace(/^refs\/heads\//, '')} at ${job.commit.slice(0, 12)}` : job.release;
  view.start(`${job.kind} ${job.id} of ${app} (${job.env}): ${release}, by ${job.requestedBy}`, job.id, job.kind);
  const source = new EventSource(`/dashboard/api${base}/deploys/${encodeURIComponent(job.id)}`);
  followed = source;
  source.onmessage = (message) => {
    const object = JSON.parse(message.data);
    // Its first line says what the view's title says already.
    if (object.stdout !== undefined && object.event === undefined && /^(deploy|rollback|reapply) [0-9]+: /.test(object.stdout)) return;
    view.take(object);
    if (object.exit !== undefined) {
      // The stream ended: without close(), EventSource would ask again.
      source.close();
      followed = undefined;
      ended.add(job.id);
      showInfo().catch((e) => showError(e.message));
      void pollDeploys();
    }
  };
  source.onerror = () => {
    source.close();
    if (followed === source) followed = undefined;
    view.lost('the stream ended');
  };
}

let polling = false;
async function pollDeploys() {
  if (polling || document.visibilityState === 'hidden') return;
  polling = true;
  try {
    const jobs = await api(`${base}/deploys`);
    fill(
      document.getElementById('deploys'),
      jobs.length === 0
        ? [el('tr', {}, el('td', { colspan: 7, className: 'note' }, 'No deploy queued or running.'))]
        : jobs.map((j) =>
            el(
              'tr',
              { 'data-job': j.id, 'data-state': j.state },
              el('td', { className: 'mono' }, j.id),
              el('td', {}, j.kind),
              el('td', {}, j.env),
              el('td', { className: 'mono' }, j.release ?? `${j.ref.replace(/^refs\/heads\//, '')} ${j.commit.slice(0, 12)}`),
              el('td', {}, j.requestedBy),
              el('td', {}, j.state === 'active' ? 'running' : j.state),
              el('td', {}, when(j.startedAt ?? j.since)),
            ),
          ),
    );
    if (!busy && !followed) {
      const next = jobs.find((j) => j.state === 'active' && !ended.has(j.id)) ?? jobs.find((j) => !ended.has(j.id));
      if (next) follow(next);
    }
  } catch (e) {
    showError(e.message);
  } finally {
    polling = false;
  }
}
window.setInterval(() => void pollDeploys(), POLL_MS);
document.addEventListener('visibilitychange', () => void pollDeploys());

const PALETTE = ['#2f6fde', '#e8710a', '#18794e', '#b3261e', '#7c4dff', '#00838f', '#6d4c41', '#c2185b'];

/** A time-series chart of uPlot: one x point per hour (seconds), a series per name. */
function chart(name, target, hours, series, format) {
  const width = Math.max(320, target.clientWidth || 900);
  const options = {
    width,
    height: 220,
    scales: { x: { time: true } },
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, value: (_u, v) => (v == null ? '-' : format(v)) }))],
    axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 70 }],
  };
  charts[name]?.destroy();
  charts[name] = new uPlot(options, [hours, ...series.map((s) => s.values)], target);
}

async function showUsage() {
  const since = document.getElementById('since').value;
  const usage = await api(`${base}/usage?since=${encodeURIComponent(since)}`);
  document.getElementById('usage-window').textContent = `from ${when(usage.since)} to ${when(usage.until)}${usage.countedUpTo ? `, counted up to ${when(usage.countedUpTo)}` : ''}`;
  const start = Date.parse(usage.since) / 1000;
  const end = Date.parse(usage.until) / 1000;
  const hours = [];
  for (let t = start; t < end; t += 3600) hours.push(t);
  const index = new Map(hours.map((t, i) => [t, i]));
  const clusters = [...new Set([...usage.clusters.map((c) => c.cluster), ...usage.hours.map((h) => h.cluster)])].sort();
  const zeros = () => hours.map(() => 0);
  const per = (pick, cluster) => {
    const values = zeros();
    for (const h of usage.hours) if (cluster === undefined || h.cluster === cluster) values[index.get(Date.parse(h.hour) / 1000)] += pick(h);
    return values;
  };
  chart('requests', document.getElementById('chart-requests'), hours, clusters.map((c) => ({ label: c, values: per((h) => h.requests, c) })), (v) => String(Math.round(v)));
  chart(
    'bytes',
    document.getElementById('chart-bytes'),
    hours,
    clusters.flatMap((c) => [
      { label: `${c} out`, values: per((h) => h.bytesOut, c) },
      { label: `${c} in`, values: per((h) => h.bytesIn, c) },
    ]),
    formatBytes,
  );
  const classes = ['2xx', '3xx', '4xx', '5xx', 'other'];
  chart('status', document.getElementById('chart-status'), hours, classes.map((c) => ({ label: c, values: per((h) => h.status[c] ?? 0) })), (v) => String(Math.round(v)));

  const disks = usage.instances.flatMap((i) => Object.entries(i.disk).map(([host, d]) => ({ cluster: i.cluster, host, env: i.env, bytes: d.bytes })));
  const most = Math.max(1, ...disks.map((d) => d.bytes));
  fill(
    document.getElementById('disk'),
    disks.length === 0
      ? [el('tr', {}, el('td', { colspan: 5 }, 'Not measured yet: the accounting job measures disk on each web host'))]
      : disks.map((d) => {
          const bar = el('div', { className: 'bar' });
          bar.style.width = `${Math.round((d.bytes / most) * 100)}%`;
          return el('tr', { 'data-host': d.host, 'data-bytes': String(d.bytes) }, el('td', {}, d.cluster), el('td', {}, d.host), el('td', {}, d.env), el('td', { className: 'num' }, formatBytes(d.bytes)), el('td', { className: 'barcell' }, bar));
        }),
  );
}

/** Each cluster's database of the app, as db:info measures it (never its password: the API masks it, the page does not show it). */
async function showDatabases() {
  const table = document.getElementById('databases');
  let info;
  try {
    info = await api(`${base}/db`);
  } catch (e) {
    fill(table, [el('tr', {}, el('td', { colspan: 5, className: 'note' }, e.message))]);
    return;
  }
  const most = Math.max(1, ...info.databases.map((d) => d.bytes));
  fill(
    table,
    info.databases.map((d) => {
      const bar = el('div', { className: 'bar' });
      bar.style.width = `${Math.round((d.bytes / most) * 100)}%`;
      return el(
        'tr',
        { 'data-cluster': d.cluster, 'data-bytes': String(d.bytes), 'data-exists': String(d.exists) },
        el('td', {}, d.cluster),
        el('td', {}, d.host),
        el('td', { className: 'mono' }, d.name),
        el('td', { className: 'num' }, d.exists ? formatBytes(d.bytes) : 'not made yet'),
        el('td', { className: 'barcell' }, bar),
      );
    }),
  );
}

const show = (value) => (typeof value === 'string' ? value : JSON.stringify(value));

async function showConfig(instances) {
  const vars = document.getElementById('vars');
  try {
    const shown = await api(`${base}/config`);
    const rows = [
      ...Object.entries(shown.app).map(([k, v]) => ['every cluster', k, v]),
      ...Object.entries(shown.clusters).flatMap(([c, values]) => Object.entries(values).map(([k, v]) => [`@${c}`, k, v])),
    ];
    fill(vars, rows.length === 0 ? [el('tr', {}, el('td', { colspan: 3 }, 'No config var: ssh magrathea config:set APP KEY=value'))] : rows.map(([where, k, v]) => el('tr', {}, el('td', { className: 'mono' }, k), el('td', {}, where), el('td', { className: 'mono' }, v))));
  } catch (e) {
    fill(vars, [el('tr', {}, el('td', { colspan: 3, className: 'error' }, e.message))]);
    return;
  }
  const effective = document.getElementById('effective');
  for (const cluster of [...new Set(instances.map((i) => i.cluster))]) {
    const values = await api(`${base}/config?cluster=${encodeURIComponent(cluster)}`).catch((e) => e);
    const table = el('table', { className: 'effective', 'data-cluster': cluster }, el('thead', {}, el('tr', {}, el('th', {}, 'key'), el('th', {}, 'value'), el('th', {}, 'layer'), el('th', {}, 'source'))));
    const body = el('tbody');
    if (values instanceof Error) body.append(el('tr', {}, el('td', { colspan: 4, className: 'error' }, values.message)));
    else for (const v of values) body.append(el('tr', {}, el('td', { className: 'mono' }, v.path), el('td', { className: 'mono value' }, show(v.value)), el('td', {}, v.layer), el('td', { className: 'mono' }, v.source ?? '')));
    table.append(body);
    effective.append(el('details', {}, el('summary', {}, `Effective configuration on ${cluster}`), table));
  }
}

/** The app's logs from its web hosts, as the API streams them (Server-Sent Events): the last lines, or those and what follows until Stop. */
let following;
const MAX_LOG_LINES = 1000;
function showLogs(follow) {
  following?.close();
  const pre = document.getElementById('logs');
  const stop = document.getElementById('logs-stop');
  pre.hidden = false;
  pre.textContent = '';
  pre.dataset.exit = '';
  stop.hidden = !follow;
  const source = new EventSource(`/dashboard/api${base}/logs?n=50${follow ? '&follow=1' : ''}`);
  following = source;
  source.onmessage = (event) => {
    const line = JSON.parse(event.data);
    if (line.stdout !== undefined || line.stderr !== undefined) {
      pre.append(`${line.stdout ?? line.stderr}\n`);
      while (pre.childNodes.length > MAX_LOG_LINES) pre.firstChild.remove();
      pre.scrollTop = pre.scrollHeight;
    }
    if (line.exit !== undefined) {
      // The stream ended: without close(), EventSource would ask again.
      source.close();
      pre.dataset.exit = String(line.exit);
      stop.hidden = true;
    }
  };
  source.onerror = () => {
    source.close();
    if (pre.dataset.exit === '') pre.dataset.exit = 'error';
    stop.hidden = true;
  };
}
document.getElementById('logs-last').addEventListener('click', () => showLogs(false));
document.getElementById('logs-follow').addEventListener('click', () => showLogs(true));
document.getElementById('logs-stop').addEventListener('click', () => {
  following?.close();
  document.getElementById('logs-stop').hidden = true;
});

document.getElementById('since').addEventListener('change', () => {
  document.body.dataset.ready = 'false';
  showUsage()
    .catch((e) => showError(e.message))
    .finally(() => (document.body.dataset.ready = 'true'));
});

try {
  const instances = await showInfo();
  await Promise.all([showUsage(), showDatabases(), showConfig(instances), pollDeploys()]);
} catch (e) {
  showError(e.message);
}
document.body.dataset.ready = 'true';
