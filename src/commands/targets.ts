import type { CommandContext } from '../dispatch/command.js';
import { NoAppError, UsageError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { appExists } from '../push/repos.js';

/** An app and, for `app@cluster`, one of its clusters. */
export interface InstanceTarget {
  app: string;
  cluster?: string;
}

/** `app` or `app@cluster`, as typed after a command, checked. */
export function parseTarget(command: string, text: string): InstanceTarget {
  const [app, cluster, ...rest] = text.split('@');
  const problem = checkName(app!) ?? (cluster !== undefined ? checkName(cluster) : undefined);
  if (problem || rest.length > 0) throw new UsageError(`${command}: ${JSON.stringify(text)} is not APP or APP@CLUSTER${problem ? ` (${problem})` : ''}`);
  return cluster === undefined ? { app: app! } : { app: app!, cluster };
}

/**
 * The app named, which the gateway must have a repository of; at the
 * gateway's command line a name is enough: its operator deploys from any
 * repository (`magrathea deploy DIR --app NAME`), so an app may have
 * releases and no repository on the gateway.
 */
export async function existingApp(ctx: CommandContext, command: string, name: string): Promise<string> {
  const problem = checkName(name);
  if (problem) throw new UsageError(`${command}: ${problem}`);
  if (ctx.surface !== 'cli' && !appExists((await ctx.config()).gateway.stateDir, name)) throw new NoAppError(name, `: create it with "apps:create ${name}"`);
  return name;
}

/** `app` or `app@cluster`, checked, with the app existing. */
export async function existingTarget(ctx: CommandContext, command: string, text: string): Promise<InstanceTarget> {
  const target = parseTarget(command, text);
  await existingApp(ctx, command, target.app);
  return target;
}
