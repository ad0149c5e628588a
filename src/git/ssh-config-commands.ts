import { withGatewayContext, type GatewayContext } from '../gateway/context.js';
import { parseArgs } from '../commands/args.js';
import { NoAppError, UsageError } from '../core/errors.js';
import { explainInstance } from '../core/manifest/explain.js';
import { resolveInstance } from '../core/manifest/resolve.js';
import { InvalidInputError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { readConfigVars, setConfigVars, unsetConfigVars } from '../state/config-vars.js';
import { chooseEnvironment, readAppManifest } from '../push/app-manifest.js';
import { appArgument } from './app-argument.js';
import { appExists } from '../push/repos.js';
import type { SshCommand, SshCommandContext } from './ssh-command.js';


/** `app` or `app@cluster`, checked, with the app existing. */
function target(ctx: SshCommandContext, spec: string | undefined): { app: string; cluster?: string } {
  const [app, cluster, extra] = (spec ?? '').split('@');
  for (const name of [app, cluster].filter((n): n is string => n !== undefined)) {
    const problem = checkName(name);
    if (problem) throw new UsageError(problem);
  }
  if (extra !== undefined) throw new UsageError(`${JSON.stringify(spec)}: expected APP or APP@CLUSTER`);
  if (!appExists(ctx.stateDir, app!)) throw new NoAppError(app!);
  return cluster === undefined ? { app: app! } : { app: app!, cluster };
}

function withGateway<T>(ctx: SshCommandContext, action: (gateway: GatewayContext) => Promise<T>): Promise<T> {
  return withGatewayContext(ctx.configDir, action);
}

function pairs(items: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`config:set: ${JSON.stringify(item)} is not KEY=VALUE`);
    vars[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return vars;
}

export const CONFIG_COMMANDS: SshCommand[] = [
  {
    name: 'config:show',
    summary: 'the effective configuration of app@cluster with the layer of each value, or the config vars of app (masked unless --reveal)',
    usage: 'APP[@CLUSTER] [--env ENV] [--reveal] [--json]',
    need: 'config',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('config:show', this.usage, args, { values: ['env'], booleans: ['reveal', 'json'], positionals: [1, 1] });
      const { app, cluster } = target(ctx, parsed.positionals[0]);
      await withGateway(ctx, async (gateway) => {
        const manifest = await readAppManifest(gateway.config, app);
        const environment = chooseEnvironment(gateway.config, manifest, app, parsed.values.env);
        const context = { redis: gateway.redis.client, keys: gateway.keys };
        const vars = await readConfigVars(context, app, environment.name, environment.clusters);
        if (cluster === undefined) {
          const mask = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, parsed.flags.has('reveal') ? v : '********']));
          const shown = { app: mask(vars.app), clusters: Object.fromEntries(Object.entries(vars.clusters).map(([c, v]) => [c, mask(v)])) };
          if (parsed.flags.has('json')) return void ctx.io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
          const lines = [`config vars of ${app} (${environment.name}):`, ...Object.entries(shown.app).map(([k, v]) => `  ${k}=${v}`)];
          for (const [c, values] of Object.entries(shown.clusters)) lines.push(...Object.entries(values).map(([k, v]) => `  ${k}=${v}  (@${c})`));
          return void ctx.io.stdout.write(`${lines.join('\n')}\n`);
        }
        const resolved = resolveInstance(manifest, { app, env: environment.name, cluster }, vars);
        if ('problems' in resolved) throw new InvalidInputError(resolved.problems);
        const explained = explainInstance(resolved.instance, parsed.flags.has('reveal'));
        ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(explained.values, null, 2)}\n` : explained.text);
      });
    },
  },
  {
    name: 'config:set',
    summary: 'set config vars of app (or app@cluster): applied by the next deploy',
    usage: 'APP[@CLUSTER] KEY=VALUE... [--env ENV]',
    need: 'config',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('config:set', this.usage, args, { values: ['env'], positionals: [2, 100] });
      const { app, cluster } = target(ctx, parsed.positionals[0]);
      const vars = pairs(parsed.positionals.slice(1));
      await withGateway(ctx, async (gateway) => {
        const environment = chooseEnvironment(gateway.config, await readAppManifest(gateway.config, app), app, parsed.values.env);
        if (cluster !== undefined && !environment.clusters.includes(cluster)) throw new UsageError(`${app} (${environment.name}) does not deploy to ${cluster}`);
        await setConfigVars({ redis: gateway.redis.client, keys: gateway.keys }, app, environment.name, cluster, vars);
        ctx.io.stdout.write(`set ${Object.keys(vars).join(', ')} for ${app}${cluster ? `@${cluster}` : ''} (${environment.name}); applied by the next deploy: ssh magrathea deploy ${app}\n`);
      });
    },
  },
  {
    name: 'config:unset',
    summary: 'remove config vars of app (or app@cluster): applied by the next deploy',
    usage: 'APP[@CLUSTER] KEY... [--env ENV]',
    need: 'config',
    app: appArgument,
    async run(args, ctx) {
      const parsed = parseArgs('config:unset', this.usage, args, { values: ['env'], positionals: [2, 100] });
      const { app, cluster } = target(ctx, parsed.positionals[0]);
      await withGateway(ctx, async (gateway) => {
        const environment = chooseEnvironment(gateway.config, await readAppManifest(gateway.config, app), app, parsed.values.env);
        const removed = await unsetConfigVars({ redis: gateway.redis.client, keys: gateway.keys }, app, environment.name, cluster, parsed.positionals.slice(1));
        ctx.io.stdout.write(`removed ${removed} of ${parsed.positionals.length - 1} vars from ${app}${cluster ? `@${cluster}` : ''} (${environment.name}); applied by the next deploy: ssh magrathea deploy ${app}\n`);
      });
    },
  },
];
