import { defineCommand } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { startGatewayAccounting, startGatewayBackups, startGatewayWorker } from '../../dispatch/context.js';
import { stopSignal } from '../../lib/stop-signal.js';

/**
 * `magrathea worker`: runs deploys from the queue, and the accounting job at
 * its interval (unless --no-accounting), and the database backups at
 * backups.schedule when it is set, until SIGINT or SIGTERM. Run
 * several, on several machines, to deploy more apps at once.
 */
export default defineCommand<void>({
  name: 'worker',
  summary: 'run deploy jobs from the queue, and the accounting job every accounting.interval, until interrupted (one deploy at a time per app and environment)',
  usage: '[--concurrency N] [--stall-ms MS] [--no-accounting] [--config DIR]',
  args: { values: ['concurrency', 'stall-ms'], booleans: ['no-accounting'] },
  need: 'local',
  surfaces: ['cli'],
  audited: false,
  async run(args, ctx) {
    const concurrency = Number(args.values.concurrency ?? 4);
    // How soon a deploy whose worker died runs again elsewhere (BullMQ's lock, stalled check, the app lock). Default 30 s.
    const stallMs = Number(args.values['stall-ms'] ?? 30_000);
    if (!Number.isInteger(stallMs) || stallMs < 500) throw new UsageError(`worker: --stall-ms takes milliseconds, at least 500`);
    const gateway = await ctx.gateway();
    let worker: Awaited<ReturnType<typeof startGatewayWorker>> | undefined;
    let accounting: Awaited<ReturnType<typeof startGatewayAccounting>> | undefined;
    let backups: Awaited<ReturnType<typeof startGatewayBackups>> | undefined;
    try {
      worker = await startGatewayWorker(gateway, ctx.configDir, {
        concurrency: Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 4,
        lockDurationMs: stallMs,
        stalledIntervalMs: stallMs,
        appLockMs: stallMs,
      });
      if (!args.flags.has('no-accounting')) accounting = await startGatewayAccounting(gateway, ctx.configDir, { summary: (line) => ctx.io.stdout.write(`${line}\n`) });
      backups = await startGatewayBackups(gateway, ctx.configDir, { summary: (line) => ctx.io.stdout.write(`${line}\n`) });
      ctx.io.stdout.write(`worker ready (pid ${process.pid}, redis ${gateway.redis.address}${accounting ? `, accounting every ${gateway.config.gateway.accounting.intervalSeconds} s` : ''}${backups.everyMs ? `, database backups every ${backups.everyMs / 1000} s` : ''})\n`);
      const signal = await stopSignal();
      ctx.io.stdout.write(`worker: ${signal} received, finishing running jobs\n`);
    } finally {
      await Promise.all([worker?.close(), accounting?.close(), backups?.close()]);
    }
  },
});
