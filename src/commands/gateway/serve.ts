import { defineCommand } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { startGatewayAccounting, startGatewayBackups, startGatewayWorker } from '../../dispatch/context.js';
import { stopSignal } from '../../lib/stop-signal.js';
import { configureRepo, listApps, repoDir } from '../../push/repos.js';
import { parseListen, startGatewayServices, type Listen } from './start.js';

function listen(flag: string, text: string): Listen {
  const parsed = parseListen(flag, text);
  if ('error' in parsed) throw new UsageError(`serve: ${parsed.error}`);
  return parsed;
}

/**
 * `magrathea serve`: the SSH gateway (git push, `ssh magrathea <command>`),
 * the HTTP API (unless --no-http) and, unless --no-worker, a deploy worker, and unless --no-accounting,
 * the accounting job every accounting.interval, and the database backups every
 * backups.schedule when it is set, until SIGINT or SIGTERM.
 */
export default defineCommand<void>({
  name: 'serve',
  summary: 'run the SSH gateway (git push magrathea, ssh magrathea <command>), the HTTP API, a deploy worker and the accounting job',
  usage: '[--listen ADDRESS:PORT] [--http ADDRESS:PORT | --no-http] [--no-worker] [--no-accounting] [--config DIR]',
  args: { values: ['listen', 'http'], booleans: ['no-http', 'no-worker', 'no-accounting'] },
  need: 'local',
  surfaces: ['cli'],
  audited: false,
  async run(args, ctx) {
    if (args.flags.has('no-http') && args.values.http !== undefined) throw new UsageError('serve: --http and --no-http together');
    const gateway = await ctx.gateway();
    const { config } = gateway;
    const ssh = listen('--listen', args.values.listen ?? config.gateway.listen.ssh);
    const http = args.flags.has('no-http') ? undefined : listen('--http', args.values.http ?? config.gateway.listen.http);
    const log = (line: string) => void ctx.io.stdout.write(`magrathea gateway: ${line}\n`);
    let worker: Awaited<ReturnType<typeof startGatewayWorker>> | undefined;
    let accounting: Awaited<ReturnType<typeof startGatewayAccounting>> | undefined;
    let backups: Awaited<ReturnType<typeof startGatewayBackups>> | undefined;
    let services: Awaited<ReturnType<typeof startGatewayServices>> | undefined;
    // users.yml is read again on SIGHUP and when it changes: a removed user loses their sessions, streams and tokens at once.
    const reload = () => void services?.users.reload('SIGHUP');
    process.on('SIGHUP', reload);
    try {
      // Hooks point at this installation's node and code, and the push size cap is gateway.yml's: refreshed at each start.
      for (const app of await listApps(config.gateway.stateDir)) await configureRepo(repoDir(config.gateway.stateDir, app), ctx.configDir, config.gateway.builds);
      if (!args.flags.has('no-worker')) worker = await startGatewayWorker(gateway, ctx.configDir);
      if (!args.flags.has('no-accounting')) accounting = await startGatewayAccounting(gateway, ctx.configDir, { summary: (line) => ctx.io.stdout.write(`${line}\n`) });
      // With the worker: a gateway that runs no jobs runs no backups either.
      if (!args.flags.has('no-worker')) backups = await startGatewayBackups(gateway, ctx.configDir, { summary: (line) => ctx.io.stdout.write(`${line}\n`) });
      services = await startGatewayServices(gateway, { commands: ctx.commands, configDir: ctx.configDir, ssh, ...(http ? { http } : {}), log });
      const helpers = [services.http && `the HTTP API on ${http!.host}:${services.http.port}`, worker && 'a deploy worker', accounting && `accounting every ${config.gateway.accounting.intervalSeconds} s`, backups?.everyMs && `database backups every ${backups.everyMs / 1000} s`].filter(Boolean);
      ctx.io.stdout.write(`magrathea gateway listening on ${ssh.host}:${services.ssh.port}${helpers.length > 0 ? `, with ${helpers.join(', ')}` : ''} (pid ${process.pid})\n`);
      await stopSignal();
      ctx.io.stdout.write('magrathea gateway: stopping\n');
    } finally {
      process.off('SIGHUP', reload);
      await services?.close();
      await Promise.all([worker?.close(), accounting?.close(), backups?.close()]);
    }
  },
});
