import { configDir } from '../config/load.js';
import { UsageError } from '../core/errors.js';
import { readAudit, recordAudit } from '../git/audit.js';
import { installHooks, listApps, repoDir } from '../git/repos.js';
import { startGatewayServer } from '../git/server.js';
import { parseArgs } from './args.js';
import { stopSignal } from './stop-signal.js';
import { openGatewayContext, startGatewayWorker } from './gateway-context.js';
import type { Command } from './types.js';

const usage = '[--listen ADDRESS:PORT] [--no-worker] [--config DIR]';

/**
 * `magrathea serve`: the SSH gateway (git push, `ssh magrathea <command>`)
 * and, unless --no-worker, a deploy worker, until SIGINT or SIGTERM.
 */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the SSH gateway (git push magrathea, ssh magrathea <command>) and a deploy worker',
  usage,
  async run(args, io) {
    const parsed = parseArgs('serve', usage, args, { values: ['listen', 'config'], booleans: ['no-worker'], positionals: [0, 0] });
    const dir = configDir(parsed.values.config);
    const gateway = await openGatewayContext(dir);
    const listen = parsed.values.listen ?? gateway.config.gateway.listen.ssh;
    const match = /^(.+):(\d{1,5})$/.exec(listen);
    if (!match) throw new UsageError(`serve: --listen takes ADDRESS:PORT, not ${JSON.stringify(listen)}`);
    const context = { redis: gateway.redis.client, keys: gateway.keys };
    try {
      // Hooks point at this installation's node and code: refreshed at each start.
      for (const app of await listApps(gateway.config.gateway.stateDir)) await installHooks(repoDir(gateway.config.gateway.stateDir, app), dir);
      const worker = parsed.flags.has('no-worker') ? undefined : await startGatewayWorker(gateway, dir);
      const server = await startGatewayServer({
        config: gateway.config,
        configDir: dir,
        host: match[1]!,
        port: Number(match[2]),
        audit: (entry) => void recordAudit(context, entry).catch(() => undefined),
        readAudit: (count) => readAudit(context, count),
      });
      io.stdout.write(`magrathea gateway listening on ${match[1]}:${server.port}${worker ? ', with a deploy worker' : ''} (pid ${process.pid})\n`);
      await stopSignal();
      io.stdout.write('magrathea gateway: stopping\n');
      await server.close();
      await worker?.close();
    } finally {
      await gateway.close();
    }
  },
};
