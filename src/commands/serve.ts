import { configDir } from '../config/load.js';
import { UsageError } from '../core/errors.js';
import { readAudit, recordAudit } from '../state/audit.js';
import { configureRepo, listApps, repoDir } from '../push/repos.js';
import { startApiServer, type ApiServer } from '../gateway/http/server.js';
import type { AuditEntry } from '../gateway/audit.js';
import { LiveUsers } from '../gateway/live-users.js';
import { startGatewayServer, type GatewayServer } from '../gateway/ssh/server.js';
import { Slots } from '../core/slots.js';
import { resolveApiToken } from '../state/api-tokens.js';
import { parseArgs } from './args.js';
import { stopSignal } from '../lib/stop-signal.js';
import { openGatewayContext, startGatewayAccounting, startGatewayWorker } from '../gateway/context.js';
import type { Command } from './types.js';

const usage = '[--listen ADDRESS:PORT] [--http ADDRESS:PORT | --no-http] [--no-worker] [--no-accounting] [--config DIR]';

/**
 * `magrathea serve`: the SSH gateway (git push, `ssh magrathea <command>`),
 * the HTTP API (unless --no-http) and, unless --no-worker, a deploy worker, and unless --no-accounting,
 * the accounting job every accounting.interval, until SIGINT or SIGTERM.
 */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the SSH gateway (git push magrathea, ssh magrathea <command>), the HTTP API, a deploy worker and the accounting job',
  usage,
  async run(args, io) {
    const parsed = parseArgs('serve', usage, args, { values: ['listen', 'http', 'config'], booleans: ['no-http', 'no-worker', 'no-accounting'], positionals: [0, 0] });
    const dir = configDir(parsed.values.config);
    const gateway = await openGatewayContext(dir);
    const match = address('--listen', parsed.values.listen ?? gateway.config.gateway.listen.ssh);
    const http = parsed.flags.has('no-http') ? undefined : address('--http', parsed.values.http ?? gateway.config.gateway.listen.http);
    if (parsed.flags.has('no-http') && parsed.values.http !== undefined) throw new UsageError('serve: --http and --no-http together');
    const context = { redis: gateway.redis.client, keys: gateway.keys };
    let worker: Awaited<ReturnType<typeof startGatewayWorker>> | undefined;
    let server: GatewayServer | undefined;
    let api: ApiServer | undefined;
    let accounting: Awaited<ReturnType<typeof startGatewayAccounting>> | undefined;
    const log = (line: string) => void io.stdout.write(`magrathea gateway: ${line}\n`);
    // users.yml is read again on SIGHUP and when it changes: a removed user loses their sessions, streams and tokens at once.
    const users = new LiveUsers(dir, gateway.config, log);
    const reload = () => void users.reload('SIGHUP');
    process.on('SIGHUP', reload);
    users.watch();
    try {
      // Hooks point at this installation's node and code, and the push size cap is gateway.yml's: refreshed at each start.
      for (const app of await listApps(gateway.config.gateway.stateDir)) await configureRepo(repoDir(gateway.config.gateway.stateDir, app), dir, gateway.config.gateway.builds);
      if (!parsed.flags.has('no-worker')) worker = await startGatewayWorker(gateway, dir);
      if (!parsed.flags.has('no-accounting')) accounting = await startGatewayAccounting(gateway, dir, { summary: (line) => io.stdout.write(`${line}\n`) });
      const shared = {
        config: gateway.config,
        configDir: dir,
        audit: (entry: AuditEntry) => void recordAudit(context, entry).catch(() => undefined),
        readAudit: (count: number) => readAudit(context, count),
        users,
        // One count of `logs -f` per user for SSH and HTTP together.
        follows: new Slots(gateway.config.gateway.limits.logsFollowPerUser),
        log,
      };
      server = await startGatewayServer({ ...shared, host: match.host, port: match.port });
      if (http) api = await startApiServer({ ...shared, host: http.host, port: http.port, resolveToken: (token) => resolveApiToken(context, token) });
      const helpers = [api && `the HTTP API on ${http!.host}:${api.port}`, worker && 'a deploy worker', accounting && `accounting every ${gateway.config.gateway.accounting.intervalSeconds} s`].filter(Boolean);
      io.stdout.write(`magrathea gateway listening on ${match.host}:${server.port}${helpers.length > 0 ? `, with ${helpers.join(', ')}` : ''} (pid ${process.pid})\n`);
      await stopSignal();
      io.stdout.write('magrathea gateway: stopping\n');
    } finally {
      process.off('SIGHUP', reload);
      users.close();
      await Promise.all([server?.close(), api?.close()]);
      await Promise.all([worker?.close(), accounting?.close()]);
      await gateway.close();
    }
  },
};

function address(flag: string, text: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) throw new UsageError(`serve: ${flag} takes ADDRESS:PORT, not ${JSON.stringify(text)}`);
  return { host: match[1]!, port: Number(match[2]) };
}
