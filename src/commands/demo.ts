import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { run } from '../adapters/exec.js';
import { exportTree } from '../builder/build-release.js';
import { MagratheaError } from '../core/errors.js';
import type { DeployWorker } from '../deployer/worker.js';
import { labDown } from '../lab/down.js';
import { defaultLabDir } from '../lab/paths.js';
import { labUp } from '../lab/up.js';
import { parseArgs } from './args.js';
import { openGatewayContext, startGatewayWorker } from './gateway-context.js';
import type { Command } from './types.js';

const usage = '[--dir LAB_DIR] [--subnet S] [--no-wait]';
const EXAMPLE = fileURLToPath(new URL('../../../examples/hello-php', import.meta.url));
const EXAMPLE_FROM_SOURCE = fileURLToPath(new URL('../../examples/hello-php', import.meta.url));
const APP = 'hello';

/**
 * `magrathea demo` (what `npm run demo` runs): the lab (2 clusters x 2 web
 * hosts), a deploy worker, the example app deployed through the queue, its
 * pages fetched through both edges; then it waits for Ctrl-C and stops
 * everything it started.
 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'start the lab and a worker, deploy examples/hello-php to both clusters, show it served; Ctrl-C stops everything',
  usage,
  async run(args, io) {
    const parsed = parseArgs('demo', usage, args, { values: ['dir', 'subnet'], booleans: ['no-wait'], positionals: [0, 0] });
    const dir = parsed.values.dir ? resolve(io.cwd, parsed.values.dir) : defaultLabDir();
    const say = (line: string) => io.stdout.write(`${line}\n`);

    say(`lab: starting 2 clusters x 2 web hosts in ${dir}`);
    const subnet = parsed.values.subnet === undefined ? undefined : Number(parsed.values.subnet);
    const { status, seconds } = await labUp({ dir, shape: { clusters: 2, webHosts: 2, ...(subnet === undefined ? {} : { subnet }) } });
    say(`lab: up in ${seconds.toFixed(1)} s`);
    let gateway: Awaited<ReturnType<typeof openGatewayContext>> | undefined;
    let worker: DeployWorker | undefined;
    try {
      gateway = await openGatewayContext(status.config);
      worker = await startGatewayWorker(gateway, status.config);

      // The example as a git repository of its own: a deploy is of a commit.
      const repo = join(dir, 'demo', APP);
      if (!existsSync(join(repo, '.git'))) {
        await mkdir(repo, { recursive: true });
        await cp(existsSync(EXAMPLE) ? EXAMPLE : EXAMPLE_FROM_SOURCE, repo, { recursive: true });
        await run('git', ['init', '-q', '-b', 'master', repo]);
        await run('git', ['-C', repo, 'add', '-A']);
        await run('git', ['-C', repo, '-c', 'user.name=Magrathea demo', '-c', 'user.email=demo@magrathea.invalid', 'commit', '-q', '-m', 'hello-php']);
      }
      const commit = (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
      const tree = join(gateway.config.gateway.stateDir, 'sources', APP, `${commit}-demo-${Date.now()}`);
      await exportTree(repo, commit, tree);
      const jobId = await gateway.queue.enqueueDeploy({ app: APP, env: 'production', commit, ref: 'refs/heads/master', requestedBy: 'demo', sourcePath: tree });
      say(`deploy ${jobId}: ${APP} (production) at ${commit.slice(0, 12)}`);
      const result = await gateway.queue.followDeploy(jobId, (line) => say(`  ${line}`));
      io.stdout.write(result.summary);

      say('\nserved through each cluster\'s edge (HAProxy -> Varnish -> Apache -> PHP-FPM):');
      for (const [cluster, domain] of [['cluster-a', `${APP}.example.com`], ['cluster-b', `${APP}.example.net`]] as const) {
        const url = status.edges.find((e) => e.cluster === cluster)!.url;
        const page = await run('curl', ['-s', '-m', '10', '-H', `Host: ${domain}`, `${url}/`]);
        say(`\n$ curl -H 'Host: ${domain}' ${url}/`);
        say(page.stdout.trimEnd().replace(/^/gm, '  '));
      }
      const cli = 'npx magrathea';
      say(`
Try next (in another terminal, from this directory):
  ${cli} releases ${APP} --config ${status.config}
  edit ${repo}/public/index.php, then: git -C ${repo} commit -qam change && ${cli} deploy ${repo} --app ${APP} --config ${status.config}
  ${cli} rollback ${APP}@cluster-a --config ${status.config}
  ${cli} explain ${repo} --app ${APP} --cluster cluster-b --config ${status.config}
  ${cli} lab status --dir ${dir}
  ssh -F ${status.ssh.config} a-web-1 ls /var/www/magrathea/${APP}/production/releases
A worker is running in this process. Ctrl-C stops the worker and the lab.`);
      if (!result.release) throw new MagratheaError('the demo deploy did not go live', 'demo-failed');
      if (!parsed.flags.has('no-wait')) await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    } finally {
      say('\nstopping the worker and the lab');
      await worker?.close();
      await gateway?.close();
      const down = await labDown({ dir, purge: false });
      say(`lab: down (${down.stopped.length} processes stopped)`);
    }
  },
};
