import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../adapters/exec.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import type { RenderedFile, Service } from '../core/render/cluster.js';
import { fpmPoolDir, fpmSocket, instanceRoot, logDir, unixUser } from '../core/render/names.js';

/** One validator's complaint, pointed at the rendered file (under the output directory) and line. */
export interface CheckFailure {
  service: Service;
  host: string;
  /** The file under the output directory, when the validator named one. */
  file?: string;
  line?: number;
  message: string;
}

const SCRIPT = fileURLToPath(new URL('../../../libexec/check-rendered-host.sh', import.meta.url));
const SCRIPT_FROM_SOURCE = fileURLToPath(new URL('../../libexec/check-rendered-host.sh', import.meta.url));
const MODULES = ['mpm_event', 'authz_core', 'dir', 'mime', 'alias', 'proxy', 'proxy_fcgi', 'remoteip', 'rewrite', 'headers', 'setenvif'];

/**
 * Runs the real validators on the rendered files of one host, the files seen
 * at their real paths in a throwaway mount namespace (see
 * libexec/check-rendered-host.sh). Needs root, unshare and the tools.
 * `tree` is `<out>/<cluster>/<host>`, as written by writeRendered.
 */
export async function checkHost(cluster: ClusterConfig, host: HostConfig, instances: InstanceConfig[], files: RenderedFile[], tree: string): Promise<CheckFailure[]> {
  const mine = files.filter((f) => f.host === host.name);
  const web = host.roles.includes('web') ? instances : [];
  const users = web.map(unixUser);
  const dirs = web.flatMap((i) => [
    `${instanceRoot(cluster.paths, i)}/current/${i.docroot === '.' ? '' : i.docroot}`.replace(/\/$/, ''),
    logDir(cluster.paths, i),
    dirname(fpmSocket(cluster.paths, i)),
  ]);
  const tops = new Set(['etc', ...[...mine.map((f) => f.path), ...dirs].map((p) => p.split('/')[1]!)]);

  const work = await mkdtemp(join(tmpdir(), 'magrathea-check-'));
  try {
    const checks: { service: Service; argv: string[] }[] = [];
    if (mine.some((f) => f.service === 'apache')) {
      const conf = join(work, 'apache.conf');
      await writeFile(conf, apacheHarness(work, cluster));
      checks.push({ service: 'apache', argv: ['apache2', '-t', '-f', conf] });
    }
    for (const php of new Set(web.map((i) => i.php))) {
      const conf = join(work, `fpm-${php}.conf`);
      await writeFile(conf, `[global]\nerror_log = ${work}/fpm-${php}.log\ninclude = ${fpmPoolDir(cluster.paths, php)}/magrathea-*.conf\n`);
      checks.push({ service: 'fpm', argv: [`php-fpm${php}`, '-t', '-y', conf] });
    }
    // Each instance's VCL alone, as a deploy loads it; main.vcl names their labels, which only a running cache has.
    for (const [n, f] of mine.filter((f) => f.service === 'varnish' && f.instance).entries()) {
      checks.push({ service: 'varnish', argv: ['varnishd', '-C', '-n', join(work, `varnish-n${n}`), '-f', f.path] });
    }
    if (mine.some((f) => f.service === 'haproxy')) {
      const conf = join(work, 'haproxy.cfg');
      await writeFile(conf, 'global\n    maxconn 100\n');
      checks.push({ service: 'haproxy', argv: ['haproxy', '-c', '-f', conf, '-f', cluster.paths.haproxy] });
    }

    const failures: CheckFailure[] = [];
    let n = 0;
    for (const check of checks) {
      const result = await runInHostView({ work: join(work, `ns${n++}`), tree, tops: [...tops], users, dirs }, check.argv);
      if (result.exitCode !== 0) failures.push(locate(check.service, host.name, `${result.stderr}\n${result.stdout}`, tree, mine));
    }
    return failures;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface HostView {
  /** A scratch directory for the overlays' upper and work dirs. */
  work: string;
  /** Rendered files, laid out from / (`<out>/<cluster>/<host>`). */
  tree: string;
  /** Top directories to overlay (`etc`, `var`); must cover the tree, the dirs, and etc. */
  tops: string[];
  users: string[];
  dirs: string[];
}

/** Runs argv in a throwaway mount namespace where the host's rendered files are at their real paths. */
export function runInHostView(view: HostView, argv: string[]): ReturnType<typeof run> {
  const script = existsSync(SCRIPT) ? SCRIPT : SCRIPT_FROM_SOURCE;
  const args = [view.work, view.tree, view.tops.join(','), view.users.join(','), view.dirs.join(',')];
  return run('unshare', ['--mount', '--propagation', 'private', '--', 'sh', script, ...args, '--', ...argv], { reject: false, timeout: 60_000 });
}

function apacheHarness(work: string, cluster: ClusterConfig): string {
  return [
    `ServerRoot "${work}"`,
    `PidFile "${work}/apache.pid"`,
    `Mutex file:${work}`,
    `ErrorLog "${work}/apache-error.log"`,
    ...MODULES.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`),
    `Listen 127.0.0.1:${cluster.ports.web}`,
    `IncludeOptional "${cluster.paths.apache}/*.conf"`,
    '',
  ].join('\n');
}

/**
 * Finds, in a validator's output, the rendered file and line it complains
 * about (each tool spells it differently), and keeps the lines that say what
 * is wrong, with host paths replaced by paths under the output directory.
 */
export function locate(service: Service, host: string, output: string, tree: string, files: RenderedFile[]): CheckFailure {
  const patterns = [
    /Syntax error on line (\d+) of ([^\s:]+)/, // apache2 -t
    /parsing \[([^:\]]+):(\d+)\]/, // haproxy -c
    /\('([^']+)' Line (\d+) Pos \d+\)/, // varnishd -C
    /\[([^:\]]+):(\d+)\]/, // php-fpm -t
  ];
  const failure: CheckFailure = { service, host, message: '' };
  for (const pattern of patterns) {
    const match = pattern.exec(output);
    if (!match) continue;
    const [path, line] = pattern === patterns[0] ? [match[2]!, match[1]!] : [match[1]!, match[2]!];
    if (files.some((f) => f.path === path)) {
      failure.file = `${tree}${path}`;
      failure.line = Number(line);
      break;
    }
  }
  const useful = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(#|\/\*|\*|})/.test(l) && !/configuration file .* test is successful|Configuration file is valid|Syntax OK/.test(l));
  let message = useful.filter((l) => /error|alert|unknown|expected|invalid|not|fail|cannot|unable|missing|found/i.test(l)).slice(0, 4).join(' | ') || useful.slice(0, 3).join(' | ');
  for (const f of files) message = message.replaceAll(f.path, `${tree}${f.path}`);
  failure.message = message || `${service} check failed with no message`;
  return failure;
}

export function formatFailure(f: CheckFailure): string {
  const where = f.file ? `${f.file}:${f.line ?? 1}: ` : `${f.host}: `;
  return `${where}${f.service} check failed: ${f.message}`;
}
