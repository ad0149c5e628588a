import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * What every bench that starts a lab needs: cleanups run once, the last
 * registered first, whether the bench ends, fails, is interrupted, or runs
 * past its hard limit; the exit status says which. And its clock: a budget
 * after which it starts no new round, and the machine's load before it.
 */
export interface BenchCleanups {
  /** Registers a step to run at the end (the lab down, a scratch dir removed). */
  push(step: () => Promise<void>): void;
  /** True once the cleanups have started: the lab is going down, stop measuring. */
  stopping(): boolean;
}

export interface BenchLimits {
  /** No new round starts after this long; the rounds done are reported. */
  budgetMs: number;
  /** Past this, the bench brings its lab down and exits, wherever it is. */
  hardLimitMs: number;
}

export interface BenchClock {
  /** True once the budget is spent: start no new round. */
  overBudget(): boolean;
  /** Seconds since the bench started. */
  seconds(): number;
  /** "N CPUs, load average L before the bench started". */
  machine: string;
}

export async function runBench({ budgetMs, hardLimitMs }: BenchLimits, main: (cleanups: BenchCleanups, clock: BenchClock) => Promise<void>): Promise<void> {
  const began = performance.now();
  const clock: BenchClock = {
    overBudget: () => performance.now() - began > budgetMs,
    seconds: () => (performance.now() - began) / 1000,
    machine: `${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)} before the bench started`,
  };
  const steps: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const step of steps.reverse()) await step().catch((e: unknown) => console.error(`bench: cleanup: ${(e as Error).message}`));
    })());
  // `on`, not `once`: a second signal while cleaning up must not find Node's default, which would kill the bench before its lab is down.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (cleaning) return;
      console.error(`bench: ${signal}: bringing the lab down`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  setTimeout(() => {
    console.error(`bench: still running after ${hardLimitMs / 60_000} minutes: bringing the lab down`);
    void cleanup().finally(() => process.exit(1));
  }, hardLimitMs).unref();

  try {
    await main({ push: (step) => void steps.push(step), stopping: () => cleaning !== undefined }, clock);
  } catch (e) {
    console.error(`bench: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}
