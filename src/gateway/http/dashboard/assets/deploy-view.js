// One deploy or rollback as it goes, from the objects the API streams ({stdout}, {stderr}, {event}, {result}, {exit}):
// per cluster and host, each phase's state from the events; the lines a terminal shows; the result of each cluster.
import { el } from './common.js';
import { PHASES } from './phases.js';

const MARKS = { started: '…', done: '✓', failed: '✗', warning: '!' };
const MAX_LINES = 2000;
/** The key of what an event of no cluster concerns (source, build, the release's id): the deploy as a whole. */
const WHOLE = '';
/** The key of a cluster's own events (no host): its row before its hosts'. */
const CLUSTER_ROW = '';

export class DeployView {
  constructor(root) {
    this.root = root;
    this.title = root.querySelector('.deploy-title');
    this.phases = root.querySelector('.deploy-phases');
    this.result = root.querySelector('.deploy-result');
    this.lines = root.querySelector('.deploy-lines');
  }

  /** A new deploy in the view: `job` its id when known (a deploy of the page's own button learns it from its first line), `kind` deploy or rollback. */
  start(title, job, kind) {
    this.clusters = new Map();
    this.release = undefined;
    this.heading = title;
    this.root.hidden = false;
    this.root.dataset.job = job ?? '';
    this.root.dataset.kind = kind ?? '';
    this.root.dataset.state = 'running';
    this.root.dataset.exit = '';
    this.lines.textContent = '';
    this.result.hidden = true;
    this.result.querySelector('tbody').replaceChildren();
    this.phases.replaceChildren();
    this.showTitle();
  }

  get job() {
    return this.root.dataset.job || undefined;
  }

  get running() {
    return !this.root.hidden && this.root.dataset.state === 'running';
  }

  /** One object of the stream. */
  take(object) {
    if (object.stdout !== undefined) this.line(object.stdout);
    if (object.stderr !== undefined) this.line(object.stderr);
    if (object.event) this.event(object.event);
    if (object.result && Array.isArray(object.result.clusters)) this.showResult(object.result);
    if (object.exit !== undefined) this.end(object.exit);
  }

  line(text) {
    // `deploy 12: shop (production) at ...`: the first line of a deploy or rollback names its job.
    const named = /^(?:deploy|rollback|reapply|apply again) ([0-9]+): /.exec(text);
    if (named && !this.job) this.root.dataset.job = named[1];
    this.lines.append(`${text}\n`);
    while (this.lines.childNodes.length > MAX_LINES) this.lines.firstChild.remove();
    this.lines.scrollTop = this.lines.scrollHeight;
  }

  event(event) {
    if (event.release) this.release = event.release;
    // Once clusters are at work, what came before them (source, build) is done.
    const whole = this.clusters.get(WHOLE);
    if (event.cluster && whole?.current) {
      this.settle(whole, 'done');
      this.draw(WHOLE);
    }
    const cluster = this.cluster(event.cluster ?? WHOLE);
    if (event.status !== 'info') {
      const row = event.host ?? CLUSTER_ROW;
      // A cluster (or the whole deploy) is in one phase at a time: the one it starts ends the one before.
      if (row === CLUSTER_ROW && event.status === 'started' && cluster.current !== event.phase) {
        this.settle(cluster, 'done');
        cluster.current = event.phase;
      }
      const cells = cluster.rows.get(row) ?? new Map();
      cluster.rows.set(row, cells);
      const before = cells.get(event.phase);
      // A failure stays; a warning marks a phase nothing else said anything of yet.
      if (before !== 'failed' && !(event.status === 'warning' && before)) cells.set(event.phase, event.status);
      if (row === CLUSTER_ROW && event.status !== 'started' && cluster.current === event.phase && event.status !== 'warning') cluster.current = undefined;
    } else if (!cluster.rows.has(CLUSTER_ROW)) cluster.rows.set(CLUSTER_ROW, new Map());
    this.showTitle();
    this.draw(event.cluster ?? WHOLE);
  }

  /** Each cluster's outcome: the phase it was in ends as it did. */
  showResult(result) {
    if (result.release) this.release = result.release;
    const body = this.result.querySelector('tbody');
    body.replaceChildren(
      ...result.clusters.map((c) => {
        const cluster = this.cluster(c.cluster);
        this.settle(cluster, c.status === 'live' ? 'done' : 'failed');
        this.draw(c.cluster);
        return el(
          'tr',
          { 'data-cluster': c.cluster, 'data-status': c.status, 'data-serving': c.serving ?? '' },
          el('td', {}, c.cluster),
          el('td', { className: `status-${c.status}` }, c.status),
          el('td', { className: 'mono' }, c.release ?? ''),
          el('td', { className: 'mono' }, c.serving ?? ''),
          el('td', { className: 'num' }, typeof c.seconds === 'number' ? c.seconds.toFixed(1) : ''),
          el('td', { className: 'error' }, c.error ?? ''),
        );
      }),
    );
    this.result.hidden = false;
  }

  end(exit) {
    const whole = this.clusters.get(WHOLE);
    if (whole) {
      this.settle(whole, exit === 0 ? 'done' : 'failed');
      this.draw(WHOLE);
    }
    this.line(exit === 0 ? 'done' : `failed (exit ${exit})`);
    this.root.dataset.exit = String(exit);
    this.root.dataset.state = exit === 0 ? 'done' : 'failed';
    this.showTitle();
  }

  /** The stream ended without an exit (the gateway restarted, the network): the deploy itself goes on. */
  lost(why) {
    if (!this.running) return;
    this.line(`lost track of it (${why}): following it again`);
    this.root.dataset.state = 'lost';
    this.showTitle();
  }

  refused(message) {
    this.line(`refused: ${message}`);
    this.root.dataset.exit = 'refused';
    this.root.dataset.state = 'failed';
    this.showTitle();
  }

  cluster(name) {
    let cluster = this.clusters.get(name);
    if (!cluster) {
      cluster = { rows: new Map(), current: undefined, table: undefined };
      this.clusters.set(name, cluster);
    }
    return cluster;
  }

  /** What the cluster (or the whole deploy) had started, on any of its hosts, ended as `status`: it moved on, or it ended. */
  settle(cluster, status) {
    for (const cells of cluster.rows.values()) {
      for (const [phase, was] of cells) if (was === 'started') cells.set(phase, status);
    }
    cluster.current = undefined;
  }

  showTitle() {
    const state = { running: 'running', done: 'done', failed: 'failed', lost: 'reconnecting' }[this.root.dataset.state] ?? '';
    this.title.textContent = `${this.heading}${this.release && !this.heading.includes(this.release) ? ` · ${this.release}` : ''} · ${state}`;
  }

  /** One cluster's table: a row for the cluster, one per host; a column per phase it went through, in their order. */
  draw(name) {
    const cluster = this.clusters.get(name);
    const seen = new Set([...cluster.rows.values()].flatMap((cells) => [...cells.keys()]));
    const phases = [...PHASES.filter((p) => seen.has(p)), ...[...seen].filter((p) => !PHASES.includes(p))];
    const hosts = [...cluster.rows.keys()].filter((h) => h !== CLUSTER_ROW).sort();
    const rows = [CLUSTER_ROW, ...hosts].map((host) => {
      const cells = cluster.rows.get(host) ?? new Map();
      return el(
        'tr',
        { 'data-host': host },
        el('th', {}, host === CLUSTER_ROW ? (name === WHOLE ? 'the deploy' : name) : host),
        ...phases.map((phase) => {
          const status = cells.get(phase);
          return el('td', { 'data-phase': phase, 'data-status': status ?? '', className: status ? `phase-${status}` : '', title: status ? `${phase}: ${status}` : '' }, status ? MARKS[status] ?? status : '');
        }),
      );
    });
    const table = el('table', { className: 'phases', 'data-cluster': name }, el('thead', {}, el('tr', {}, el('th', {}, name === WHOLE ? '' : 'host'), ...phases.map((p) => el('th', {}, p)))), el('tbody', {}, ...rows));
    if (cluster.table) cluster.table.replaceWith(table);
    else if (name === WHOLE) this.phases.prepend(table);
    else this.phases.append(table);
    cluster.table = table;
  }
}
