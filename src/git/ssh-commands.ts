import { run } from '../adapters/exec.js';
import { loadGatewayConfig } from '../config/load.js';
import { MagratheaError, NoAppError, UsageError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { parseArgs } from '../commands/args.js';
import { deployCommand } from '../commands/deploy.js';
import { openGatewayContext, withGatewayContext } from '../gateway/context.js';
import { readReleasesLiveOn, releasesCommand } from '../commands/releases.js';
import { undeployApp } from '../deployer/undeploy-app.js';
import { destroyAppKeys } from '../state/destroy-app.js';
import { rollbackCommand } from '../commands/rollback.js';
import { usageCommand } from '../commands/usage.js';
import { statusCommand } from '../commands/status.js';
import { appArgument } from './app-argument.js';
import { appExists, createRepo, destroyRepo, listApps, repoDir } from '../push/repos.js';
import type { SshCommand, SshCommandContext } from './ssh-command.js';
import { CONFIG_COMMANDS } from './ssh-config-commands.js';
import { TOKEN_COMMANDS } from './ssh-token-commands.js';
import { logsCommand } from './logs.js';
import { shellCommand } from './shell.js';

export type { SshCommand, SshCommandContext } from './ssh-command.js';


/**
 * A branch before a tag of the same name, then anything else git resolves
 * (a commit id): git itself would take the tag, so that a tag named
 * `master` would otherwise shadow the branch the push hook checked.
 */
async function fullRef(repo: string, ref: string): Promise<string> {
  for (const full of [`refs/heads/${ref}`, `refs/tags/${ref}`]) {
    if ((await run('git', ['-C', repo, 'show-ref', '--verify', '--quiet', full], { reject: false })).exitCode === 0) return full;
  }
  return ref;
}

function requireApp(ctx: SshCommandContext, app: string | undefined): string {
  const problem = app === undefined ? 'missing app name' : checkName(app);
  if (problem) throw new UsageError(problem);
  if (!appExists(ctx.stateDir, app!)) throw new NoAppError(app!, `: create it with "apps:create ${app}"`);
  return app!;
}

export const SSH_COMMANDS: SshCommand[] = [
  ...CONFIG_COMMANDS,
  {
    name: 'audit',
    summary: 'who did what, when, with which outcome, newest first (admins)',
    usage: '[-n N] [--json]',
    need: 'admin',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('audit', '[-n N] [--json]', args, { values: ['n'], booleans: ['json'] });
      const count = Number(parsed.values.n ?? 50);
      if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UsageError('audit: -n takes a number from 1 to 10000');
      const entries = await ctx.audit(count);
      // readAudit escaped every field: nothing a client typed reaches this terminal raw.
      ctx.io.stdout.write(
        parsed.flags.has('json')
          ? `${JSON.stringify(entries)}\n`
          : entries.map((e) => `${e.at}  ${e.user.padEnd(12)}  exit ${String(e.exitCode).padEnd(3)}  ${(e.from ?? '-').padEnd(21)}  ${e.command}${e.refused ? `  [refused: ${e.refused}]` : ''}\n`).join(''),
      );
    },
  },
  {
    name: 'apps:list',
    summary: 'the apps you may see',
    usage: '[--json]',
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('apps:list', '[--json]', args, { booleans: ['json'] });
      const apps = (await listApps(ctx.stateDir)).filter((a) => ctx.may('read', a));
      ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(apps)}\n` : apps.map((a) => `${a}\n`).join(''));
    },
  },
  {
    name: 'apps:create',
    summary: 'create an app: its git repository on the gateway (admins)',
    usage: 'APP',
    need: 'admin',
    app: appArgument,
    async run(args, ctx) {
      const [app] = parseArgs('apps:create', 'APP', args, { positionals: [1, 1] }).positionals;
      const problem = checkName(app!);
      if (problem) throw new UsageError(`apps:create: ${problem}`);
      await createRepo(ctx.stateDir, app!, ctx.configDir, (await loadGatewayConfig(ctx.configDir)).gateway.builds);
      ctx.io.stdout.write(`created ${app}\nnext: git remote add magrathea <this gateway>:${app} && git push magrathea master\n`);
    },
  },
  {
    name: 'apps:info',
    summary: 'an app\'s repository, environments and live releases',
    usage: 'APP [--json]',
    need: 'read',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('apps:info', 'APP [--json]', args, { booleans: ['json'], positionals: [1, 1] });
      const app = requireApp(ctx, parsed.positionals[0]);
      if (parsed.flags.has('json')) {
        const releases = await withGatewayContext(ctx.configDir, (g) => readReleasesLiveOn({ redis: g.redis.client, keys: g.keys }, app));
        const live = Object.fromEntries(releases.flatMap((r) => r.liveOn.map((cluster) => [`${r.env}@${cluster}`, r.id])));
        ctx.io.stdout.write(`${JSON.stringify({ app, repository: repoDir(ctx.stateDir, app), live, releases })}\n`);
        return;
      }
      ctx.io.stdout.write(`app ${app}\nrepository ${repoDir(ctx.stateDir, app)}\n`);
      await releasesCommand.run([app, '--config', ctx.configDir], ctx.io);
    },
  },
  {
    name: 'apps:destroy',
    summary: 'remove an app from every host, then its repository and history (admins; asks for the app name)',
    usage: 'APP [--confirm APP]',
    need: 'admin',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('apps:destroy', 'APP [--confirm APP]', args, { values: ['confirm'], positionals: [1, 1] });
      const app = parsed.positionals[0]!;
      const problem = checkName(app);
      if (problem) throw new UsageError(`apps:destroy: ${problem}`);
      // Run again after it succeeded, it finds nothing and succeeds: a destroy that was cut short can always be finished.
      const existed = appExists(ctx.stateDir, app);
      const answer = parsed.values.confirm ?? (await ctx.ask?.(`type the app's name (${app}) to destroy it: `));
      if (answer?.trim() !== app) throw new UsageError(`apps:destroy: not confirmed; nothing removed (give --confirm ${app}, or type the name)`);
      const gateway = await openGatewayContext(ctx.configDir);
      let removed;
      try {
        const context = { redis: gateway.redis.client, keys: gateway.keys };
        // A deploy running or waiting would put the app back on a cluster once the destroy has left it.
        const deploys = (await gateway.queue.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'])).filter((j) => j?.data.app === app);
        if (deploys.length > 0) throw new MagratheaError(`apps:destroy: a deploy of ${app} is running or queued (job ${deploys.map((j) => j.id).join(', ')}); nothing removed: run apps:destroy once it has ended`, 'deploy-running');
        // The hosts first: should one fail, the gateway still knows everything a second run needs.
        removed = await undeployApp({ app, config: gateway.config, redis: context, log: (l) => ctx.io.stderr.write(`${l}\n`), report: (l) => ctx.io.stdout.write(`${l}\n`) }).catch((e: unknown) => {
          throw new MagratheaError(`apps:destroy: ${(e as Error).message}\nthe gateway keeps ${app} (repository, releases, config vars): run apps:destroy ${app} again`, e instanceof MagratheaError ? e.code : 'destroy-failed', 1, true, { cause: e });
        });
        await destroyAppKeys(context, app);
      } finally {
        await gateway.close();
      }
      await destroyRepo(ctx.stateDir, app);
      const where = removed.instances === 0 ? 'it was on no host' : `${removed.instances} instance(s) removed from ${removed.clusters} cluster(s) in ${removed.seconds.toFixed(1)} s`;
      ctx.io.stdout.write(existed || removed.instances > 0 ? `gateway: destroyed ${app}: its repository, releases, config vars and history (${where})\n` : `gateway: no app ${app}, and no host serves it: nothing to destroy\n`);
    },
  },
  {
    name: 'releases',
    summary: 'an app\'s releases, newest first, and where each is live',
    usage: 'APP [--env ENV] [--json]',
    need: 'read',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('releases', 'APP [--env ENV] [--json]', args, { values: ['env'], booleans: ['json'], positionals: [1, 1] });
      const app = requireApp(ctx, parsed.positionals[0]);
      await releasesCommand.run([app, ...(parsed.values.env ? ['--env', parsed.values.env] : []), ...(parsed.flags.has('json') ? ['--json'] : []), '--config', ctx.configDir], ctx.io);
    },
  },
  {
    name: 'rollback',
    summary: 'back to the previous release (or RELEASE), on every cluster or app@cluster',
    usage: 'APP[@CLUSTER] [RELEASE] [--env ENV]',
    need: 'rollback',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('rollback', 'APP[@CLUSTER] [RELEASE] [--env ENV]', args, { values: ['env'], positionals: [1, 2] });
      const [target, release] = parsed.positionals as [string, string | undefined];
      requireApp(ctx, target.split('@')[0]);
      await rollbackCommand.run([target, ...(release ? ['--to', release] : []), ...(parsed.values.env ? ['--env', parsed.values.env] : []), '--config', ctx.configDir], ctx.io);
    },
  },
  {
    name: 'deploy',
    summary: 'deploy an app again from its repository on the gateway (REF: a branch or commit; default master)',
    usage: 'APP [REF] [--env ENV]',
    need: 'deploy',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('deploy', 'APP [REF] [--env ENV]', args, { values: ['env'], positionals: [1, 2] });
      const app = requireApp(ctx, parsed.positionals[0]);
      const ref = parsed.positionals[1] ?? 'master';
      if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(ref) || ref.includes('..')) throw new UsageError(`deploy: ${JSON.stringify(ref)} is not a branch or commit`);
      const repo = repoDir(ctx.stateDir, app);
      await deployCommand.run([repo, '--app', app, '--ref', await fullRef(repo, ref), ...(parsed.values.env ? ['--env', parsed.values.env] : []), '--config', ctx.configDir], ctx.io);
    },
  },
  {
    name: 'usage',
    summary: 'an app\'s web traffic and disk, per cluster and in total, and the quotas it crossed',
    usage: 'APP [--since 7d] [--json]',
    need: 'read',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('usage', 'APP [--since 7d] [--json]', args, { values: ['since'], booleans: ['json'], positionals: [1, 1] });
      const app = requireApp(ctx, parsed.positionals[0]);
      await usageCommand.run([app, ...(parsed.values.since ? ['--since', parsed.values.since] : []), ...(parsed.flags.has('json') ? ['--json'] : []), '--config', ctx.configDir], ctx.io);
    },
  },
  {
    name: 'status',
    summary: "the gateway's health: workers, queued and failed deploys, the accounting job, each host's last visit (admins)",
    usage: '[--json] [--check]',
    need: 'admin',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('status', '[--json] [--check]', args, { booleans: ['json', 'check'], positionals: [0, 0] });
      await statusCommand.run([...parsed.flags].map((f) => `--${f}`).concat(['--config', ctx.configDir]), ctx.io);
    },
  },
  logsCommand,
  shellCommand,
  ...TOKEN_COMMANDS,
];
