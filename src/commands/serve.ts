import { configDir } from '../config/load.js';
import { UsageError } from '../core/errors.js';
import { readAudit, recordAudit } from '../git/audit.js';
import { installHooks, listApps, repoDir } from '../git/repos.js';
import { startGatewayServer } from '../git/server.js';
import { parseArgs } from './args.js';
import { stopSignal } from './stop-signal.js';
import { openGatewayContext, startGatewayAccounting, startGatewayWorker } from './gateway-context.js';
import type { Command } from './types.js';

const usage = '[--listen ADDRESS:PORT] [--no-worker] [--no-accounting] [--config DIR]';

/**
 * `magrathea serve`: the SSH gateway (git push, `ssh magrathea <command>`)
 * and, unless --no-worker, a deploy worker, and unless --no-accounting,
 * the accounting job every accounting.interval, until SIGINT or SIGTERM.
 */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the SSH gateway (git push magrathea, ssh magrathea <command>), a deploy worker and the accounting job',
  usage,
  async run(args, io) {
    const parsed = parseArgs('serve', usage, args, { values: ['listen', 'config'], booleans: ['no-worker', 'no-accounting'], positionals: [0, 0] });
    const dir = configDir(parsed.values.config);
    const gateway = await openGatewayContext(dir);
    const listen = parsed.values.listen ?? gateway.config.gateway.listen.ssh;
    const match = /^(.+):(\d{1,5})$/.exec(listen);
    if (!match) throw new UsageError(`serve: --listen takes ADDRESS:PORT, not ${JSON.stringify(listen)}`);
    const context = { redis: gateway.redis.client, keys: gateway.keys };
    let worker: Awaited<ReturnType<typeof startGatewayWorker>> | undefined;
    let accounting: Awaited<ReturnType<typeof startGatewayAccounting>> | undefined;
    try {
      // Hooks point at this installation's node and code: refreshed at each start.
      for (const app of await listApps(gateway.config.gateway.stateDir)) await installHooks(repoDir(gateway.config.gateway.stateDir, app), dir);
      if (!parsed.flags.has('no-worker')) worker = await startGatewayWorker(gateway, dir);
      if (!parsed.flags.has('no-accounting')) accounting = await startGatewayAccounting(gateway, dir, { summary: (line) => io.stdout.write(`${line}\n`) });
      const server = await startGatewayServer({
        config: gateway.config,
        configDir: dir,
        host: match[1]!,
        port: Number(match[2]),
        audit: (entry) => void recordAudit(context, entry).catch(() => undefined),
        readAudit: (count) => readAudit(context, count),
      });
      const helpers = [worker && 'a deploy worker', accounting && `accounting every ${gateway.config.gateway.accounting.intervalSeconds} s`].filter(Boolean);
      io.stdout.write(`magrathea gateway listening on ${match[1]}:${server.port}${helpers.length > 0 ? `, with ${helpers.join(' and ')}` : ''} (pid ${process.pid})\n`);
      await stopSignal();
      io.stdout.write('magrathea gateway: stopping\n');
      await server.close();
    } finally {
      await Promise.all([worker?.close(), accounting?.close()]);
      await gateway.close();
    }
  },
};
