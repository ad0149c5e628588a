import { UsageError } from '../core/errors.js';
import { parseArgs } from './args.js';
import { stopSignal } from './stop-signal.js';
import { openGatewayContext, startGatewayWorker } from './gateway-context.js';
import type { Command } from './types.js';

const usage = '[--concurrency N] [--stall-ms MS] [--config DIR]';

/** `magrathea worker`: runs deploys from the queue until SIGINT or SIGTERM. Run several, on several machines, to deploy more apps at once. */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'run deploy jobs from the queue until interrupted (one deploy at a time per app and environment)',
  usage,
  async run(args, io) {
    const parsed = parseArgs('worker', usage, args, { values: ['concurrency', 'stall-ms', 'config'], positionals: [0, 0] });
    const concurrency = Number(parsed.values.concurrency ?? 4);
    // How soon a deploy whose worker died runs again elsewhere (BullMQ's lock, stalled check, the app lock). Default 30 s.
    const stallMs = Number(parsed.values['stall-ms'] ?? 30_000);
    if (!Number.isInteger(stallMs) || stallMs < 500) throw new UsageError(`worker: --stall-ms takes milliseconds, at least 500`);
    const gateway = await openGatewayContext(parsed.values.config);
    const worker = await startGatewayWorker(gateway, parsed.values.config, {
      concurrency: Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 4,
      lockDurationMs: stallMs,
      stalledIntervalMs: stallMs,
      appLockMs: stallMs,
    });
    io.stdout.write(`worker ready (pid ${process.pid}, redis ${gateway.redis.address})\n`);
    const signal = await stopSignal();
    io.stdout.write(`worker: ${signal} received, finishing running deploys\n`);
    await worker.close();
    await gateway.close();
  },
};
