import { resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { checkHost, formatFailure, type CheckFailure } from '../../host-config/check.js';
import { renderApps } from '../../host-config/render-apps.js';
import { hostTree, writeRendered } from '../../host-config/write.js';
import { readApp } from '../../builder/manifest.js';

const usage = 'APP_DIR [APP_DIR...] --out OUT_DIR [--config DIR] [--env ENV] [--app NAME] [--check]';

/**
 * `magrathea render`: every file that a deploy would ship, per cluster and
 * host, for the apps given (several apps share a cluster's VCL and HAProxy
 * files); with --check, the real validators run on the result.
 */
export default defineCommand<void>({
  name: 'render',
  summary: 'write the config files a deploy would ship to OUT_DIR/<cluster>/<host>/<path>; --check runs the real validators',
  usage,
  args: { values: ['out', 'env', 'app'], booleans: ['check'], positionals: [1, 100] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const out = args.values.out;
    if (!out) throw new UsageError(`render: --out is required\nusage: magrathea render ${usage}`);
    if (args.values.app && args.positionals.length > 1) throw new UsageError('render: --app names one app; with several APP_DIRs each app is named by its directory');
    const config = await ctx.config();
    const apps = await Promise.all(args.positionals.map((dir) => readApp(resolve(ctx.io.cwd, dir), args.values.app)));
    const renders = renderApps(config, apps, args.values.env);
    const outDir = resolve(ctx.io.cwd, out);

    const failures: CheckFailure[] = [];
    for (const { cluster, instances, files } of renders) {
      await writeRendered(outDir, cluster.name, files);
      ctx.io.stdout.write(`${cluster.name}: ${files.length} files for ${cluster.hosts.length} hosts (${instances.map((i) => `${i.app}@${i.env}`).join(', ')})\n`);
      if (!args.flags.has('check')) continue;
      for (const host of cluster.hosts) {
        const found = await checkHost(cluster, host, instances, files, hostTree(outDir, cluster.name, host.name));
        failures.push(...found);
        ctx.io.stdout.write(`  ${host.name}: ${found.length === 0 ? 'ok' : 'FAILED'} (${[...new Set(files.filter((f) => f.host === host.name).map((f) => f.service))].join(', ')})\n`);
      }
    }
    ctx.io.stdout.write(`written under ${outDir}\n`);
    if (failures.length > 0) throw new MagratheaError(failures.map(formatFailure).join('\n'), 'check-failed');
  },
});
