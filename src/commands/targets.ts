import type { CommandContext } from '../dispatch/command.js';
import { NoAppError, UsageError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import type { EnvironmentDef, Manifest } from '../core/manifest/types.js';
import { chooseEnvironment, readAppManifest } from '../push/manifest.js';
import { appExists } from '../push/repos.js';

/** An app and, for `app@cluster`, one of its clusters. */
export interface InstanceTarget {
  app: string;
  cluster?: string;
}

/** An app's name as a command was given it, checked (the app may not exist yet, or any more). */
export function appName(command: string, name: string): string {
  const problem = checkName(name);
  if (problem) throw new UsageError(`${command}: ${problem}`);
  return name;
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
  appName(command, name);
  if (ctx.surface !== 'cli' && !appExists((await ctx.config()).gateway.stateDir, name)) throw new NoAppError(name, `: create it with "apps:create ${name}"`);
  return name;
}

/** `app` or `app@cluster`, checked, with the app existing. */
export async function existingTarget(ctx: CommandContext, command: string, text: string): Promise<InstanceTarget> {
  const target = parseTarget(command, text);
  await existingApp(ctx, command, target.app);
  return target;
}

/** The app's manifest on the gateway's default branch, and the environment `--env` names (default: the one that branch feeds). */
export async function appEnvironment(ctx: CommandContext, app: string, env: string | undefined): Promise<{ manifest: Manifest; environment: EnvironmentDef }> {
  const config = await ctx.config();
  const manifest = await readAppManifest(config, app);
  return { manifest, environment: chooseEnvironment(config, manifest, app, env) };
}
