import { UsageError } from '../core/errors.js';
import { parseArgs } from './args.js';
import { stopSignal } from '../lib/stop-signal.js';
import { openGatewayContext, startGatewayAccounting, startGatewayWorker } from '../gateway/context.js';
import type { Command } from './types.js';

const usage = '[--concurrency N] [--stall-ms MS] [--no-accounting] [--config DIR]';

/**
 * `magrathea worker`: runs deploys from the queue, and the accounting job at
 * its interval (unless --no-accounting), until SIGINT or SIGTERM. Run
 * several, on several machines, to deploy more apps at once.
 */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'run deploy jobs from the queue, and the accounting job every accounting.interval, until interrupted (one deploy at a time per app and environment)',
  usage,
  async run(args, io) {
    const parsed = parseArgs('worker', usage, args, { values: ['concurrency', 'stall-ms', 'config'], booleans: ['no-accounting'], positionals: [0, 0] });
    const concurrency = Number(parsed.values.concurrency ?? 4);
    // How soon a deploy whose worker died runs again elsewhere (BullMQ's lock, stalled check, the app lock). Default 30 s.
    const stallMs = Number(parsed.values['stall-ms'] ?? 30_000);
    if (!Number.isInteger(stallMs) || stallMs < 500) throw new UsageError(`worker: --stall-ms takes milliseconds, at least 500`);
    const gateway = await openGatewayContext(parsed.values.config);
    let worker: Awaited<ReturnType<typeof startGatewayWorker>> | undefined;
    let accounting: Awaited<ReturnType<typeof startGatewayAccounting>> | undefined;
    try {
      worker = await startGatewayWorker(gateway, parsed.values.config, {
        concurrency: Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 4,
        lockDurationMs: stallMs,
        stalledIntervalMs: stallMs,
        appLockMs: stallMs,
      });
      if (!parsed.flags.has('no-accounting')) accounting = await startGatewayAccounting(gateway, parsed.values.config, { summary: (line) => io.stdout.write(`${line}\n`) });
      io.stdout.write(`worker ready (pid ${process.pid}, redis ${gateway.redis.address}${accounting ? `, accounting every ${gateway.config.gateway.accounting.intervalSeconds} s` : ''})\n`);
      const signal = await stopSignal();
      io.stdout.write(`worker: ${signal} received, finishing running jobs\n`);
    } finally {
      await Promise.all([worker?.close(), accounting?.close()]);
      await gateway.close();
    }
  },
};
