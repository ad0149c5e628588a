import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { run } from '../../adapters/exec.js';
import { MagratheaError } from '../../core/errors.js';
import type { DeployWorker } from '../../deployer/worker.js';
import { labDown } from '../../lab/down.js';
import { defaultLabDir } from '../../lab/paths.js';
import { labUp } from '../../lab/up.js';
import { appExists, createRepo } from '../../push/repos.js';
import type { AccountingWorker } from '../../accounting/queue.js';
import { createApiToken } from '../../state/api-tokens.js';
import { stopSignal } from '../../lib/stop-signal.js';
import { openGatewayContext, startGatewayAccounting, startGatewayWorker } from '../../dispatch/context.js';
import { defineCommand } from '../../dispatch/command.js';
import { parseListen, startGatewayServices, type GatewayServices } from './start.js';

const usage = '[--dir LAB_DIR] [--subnet S] [--listen ADDRESS:PORT] [--http ADDRESS:PORT] [--no-wait]';
const EXAMPLE = fileURLToPath(new URL('../../../../examples/hello-php', import.meta.url));
const EXAMPLE_FROM_SOURCE = fileURLToPath(new URL('../../../examples/hello-php', import.meta.url));
const APP = 'hello';

/**
 * `magrathea demo` (what `npm run demo` runs): the lab (2 clusters x 2 web
 * hosts), the SSH gateway and a deploy worker, the example app pushed with
 * the real git and ssh, its pages fetched through both edges; then it waits
 * for Ctrl-C and stops everything it started.
 */
export default defineCommand<void>({
  name: 'demo',
  summary: 'start the lab, the gateway and a worker, git push examples/hello-php to both clusters, show it served; Ctrl-C stops everything',
  usage,
  args: { values: ['dir', 'subnet', 'listen', 'http'], booleans: ['no-wait'] },
  need: 'local',
  surfaces: ['cli'],
  audited: false,
  async run(parsed, ctx) {
    const io = ctx.io;
    const dir = parsed.values.dir ? resolve(io.cwd, parsed.values.dir) : defaultLabDir();
    const say = (line: string) => io.stdout.write(`${line}\n`);

    say(`lab: starting 2 clusters x 2 web hosts in ${dir}`);
    const subnet = parsed.values.subnet === undefined ? undefined : Number(parsed.values.subnet);
    const { status, seconds } = await labUp({ dir, shape: { clusters: 2, webHosts: 2, ...(subnet === undefined ? {} : { subnet }) } });
    say(`lab: up in ${seconds.toFixed(1)} s`);
    let gateway: Awaited<ReturnType<typeof openGatewayContext>> | undefined;
    let worker: DeployWorker | undefined;
    let accounting: AccountingWorker | undefined;
    let services: GatewayServices | undefined;
    try {
      gateway = await openGatewayContext(status.config);
      worker = await startGatewayWorker(gateway, status.config);
      accounting = await startGatewayAccounting(gateway, status.config);
      const ssh = parseListen('--listen', parsed.values.listen ?? gateway.config.gateway.listen.ssh);
      const http = parseListen('--http', parsed.values.http ?? gateway.config.gateway.listen.http);
      if ('error' in ssh || 'error' in http) throw new MagratheaError(`demo: ${'error' in ssh ? ssh.error : ''}${'error' in http ? (http as { error: string }).error : ''}`, 'usage', 2);
      // The gateway as `magrathea serve` builds it: the same commands, access checks and audit log.
      services = await startGatewayServices(gateway, { commands: ctx.commands, configDir: status.config, ssh, http });
      const [host, port] = [ssh.host, services.ssh.port];
      say(`gateway: listening on ${host}:${port}`);
      const admin = Object.values(gateway.config.users).find((u) => u.role === 'admin')!;
      const { token } = await createApiToken(gateway.state, admin.name, 'magrathea demo');
      const apiUrl = `http://${http.host}:${services.http!.port}`;
      say(`HTTP API: listening on ${apiUrl} (a token for ${admin.name}: ${token})`);

      // The demo user is the lab's admin; an ssh config names the gateway "magrathea".
      const sshConfig = join(dir, 'ssh', 'gateway_config');
      await writeFile(sshConfig, [
        '# Written by `magrathea demo`: ssh -F <this file> magrathea help',
        'Host magrathea',
        `    HostName ${host}`,
        `    Port ${port}`,
        '    User git',
        `    IdentityFile ${status.ssh.identity.replace(/id_ed25519$/, 'user_ed25519')}`,
        '    IdentitiesOnly yes',
        `    UserKnownHostsFile ${join(dir, 'ssh', 'gateway_known_hosts')}`,
        '    StrictHostKeyChecking accept-new',
        '',
      ].join('\n'));
      const sshCmd = `ssh -F ${sshConfig}`;
      if (!appExists(gateway.config.gateway.stateDir, APP)) await createRepo(gateway.config.gateway.stateDir, APP, status.config, gateway.config.gateway.builds);

      // The example as a git repository of its own, pushed like any app.
      const repo = join(dir, 'demo', APP);
      if (!existsSync(join(repo, '.git'))) {
        await mkdir(repo, { recursive: true });
        await cp(existsSync(EXAMPLE) ? EXAMPLE : EXAMPLE_FROM_SOURCE, repo, { recursive: true });
        await run('git', ['init', '-q', '-b', 'master', repo]);
        await run('git', ['-C', repo, 'add', '-A']);
        await run('git', ['-C', repo, '-c', 'user.name=Magrathea demo', '-c', 'user.email=demo@magrathea.invalid', 'commit', '-q', '-m', 'hello-php']);
        await run('git', ['-C', repo, 'remote', 'add', 'magrathea', `magrathea:${APP}`]);
      }
      say(`\n$ git push magrathea master    (in ${repo})`);
      const push = await run('git', ['-C', repo, 'push', '--force', 'magrathea', 'master'], { env: { GIT_SSH_COMMAND: sshCmd }, reject: false, onLine: (line) => say(`  ${line}`) });
      if (push.exitCode !== 0) throw new MagratheaError('the demo push was rejected (see above)', 'demo-failed');

      say('\nserved through each cluster\'s edge (HAProxy -> Varnish -> Apache -> PHP-FPM):');
      for (const [cluster, domain] of [['cluster-a', `${APP}.example.com`], ['cluster-b', `${APP}.example.net`]] as const) {
        const url = status.edges.find((e) => e.cluster === cluster)!.url;
        const page = await run('curl', ['-s', '-m', '10', '-H', `Host: ${domain}`, `${url}/`]);
        say(`\n$ curl -H 'Host: ${domain}' ${url}/`);
        say(page.stdout.trimEnd().replace(/^/gm, '  '));
      }
      const releases = await run('curl', ['-s', '-m', '10', '-H', `Authorization: Bearer ${token}`, `${apiUrl}/v1/apps/${APP}/releases`]);
      say(`\n$ curl -H 'Authorization: Bearer ...' ${apiUrl}/v1/apps/${APP}/releases`);
      say(`  ${releases.stdout.trim()}`);
      // Every push, command and API request is in the gateway's audit log, whichever door it came through.
      const audit = await run('ssh', ['-F', sshConfig, 'magrathea', 'audit', '-n', '3'], { reject: false });
      say(`\n$ ${sshCmd} magrathea audit -n 3`);
      say((audit.stdout || audit.stderr).trimEnd().replace(/^/gm, '  '));
      say(`
Try next, in another terminal:
  cd ${repo}
  export GIT_SSH_COMMAND='${sshCmd}'
  echo '<?php echo "changed\\n";' > public/index.php && git commit -qam change && git push magrathea master
  ${sshCmd} magrathea help
  ${sshCmd} magrathea releases ${APP}
  ${sshCmd} magrathea config:set ${APP}@cluster-b GREETING=Servus && ${sshCmd} magrathea deploy ${APP}
  ${sshCmd} magrathea config:show ${APP}@cluster-b
  ${sshCmd} magrathea rollback ${APP}@cluster-a
  ${sshCmd} magrathea usage ${APP}    (traffic and disk, counted every ${gateway.config.gateway.accounting.intervalSeconds} s)
  curl -H 'Host: ${APP}.example.com' ${status.edges[0]!.url}/
  curl -N -H 'Authorization: Bearer ${token}' '${apiUrl}/v1/apps/${APP}/logs?follow=1'
  open ${apiUrl}/ in a browser on this machine: the dashboard, logged in with the token above
  ssh -F ${status.ssh.config} a-web-1 ls /var/www/magrathea/${APP}/production/releases
The gateway, the HTTP API, a deploy worker and the accounting job run in this process. Ctrl-C stops them and the lab.`);
      if (!parsed.flags.has('no-wait')) await stopSignal();
    } finally {
      say('\nstopping the gateway, the worker and the lab');
      await services?.close();
      await Promise.all([worker?.close(), accounting?.close()]);
      await gateway?.close();
      const down = await labDown({ dir, purge: false });
      say(`lab: down (${down.stopped.length} processes stopped)`);
    }
  },
});
