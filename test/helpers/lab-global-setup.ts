import Module from 'node:module';

type Resolve = (request: string, parent: unknown, ...rest: unknown[]) => string;

/**
 * Names this run's labs (the shared one is brought up only when a suite
 * asks: test/helpers/lab.ts), brings down labs of earlier runs that were
 * killed before their teardown, and leaves lab-global-teardown.ts the
 * function that brings this run's labs down.
 *
 * Jest loads this file with require() and its transform but without
 * moduleNameMapper, so `./x.js` would not find `./x.ts`: the modules are
 * imported after teaching the resolver that one mapping, and the teardown
 * is handed over as a closure over them (globalSetup and globalTeardown
 * share the globals of jest's main process).
 */
export default async function labGlobalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  resolveJsToTs();
  const { releaseSubnets, reserveSubnet } = await import('./free-subnet.js');
  const { sweepDeadRuns, sweepTestLabs, TEST_LABS } = await import('./test-labs.js');

  for (const problem of await sweepDeadRuns()) process.stderr.write(`lab-global-setup: could not bring down the lab of a dead test run: ${problem}\n`);
  process.env.MAGRATHEA_TEST_RUN ??= String(process.pid);
  const run = Number(process.env.MAGRATHEA_TEST_RUN);
  // One shared lab per jest worker (test/helpers/lab.ts), beside a user's lab (127.0.1.*) and other test runs' labs;
  // MAGRATHEA_TEST_LAB_SUBNET, when set, is the first worker's.
  if (!process.env.MAGRATHEA_TEST_LAB_SUBNETS) {
    const subnets: number[] = process.env.MAGRATHEA_TEST_LAB_SUBNET ? [Number(process.env.MAGRATHEA_TEST_LAB_SUBNET)] : [];
    const candidates = [101, 111, 121, 131, 141, 151, 161, 171];
    while (subnets.length < Math.max(1, globalConfig.maxWorkers)) {
      subnets.push(await reserveSubnet(TEST_LABS, candidates.filter((c) => !subnets.includes(c)), 2, run));
    }
    process.env.MAGRATHEA_TEST_LAB_SUBNETS = subnets.join(',');
  }

  (globalThis as { magratheaLabTeardown?: () => Promise<void> }).magratheaLabTeardown = async () => {
    const problems = await sweepTestLabs(async (r) => r === run);
    await releaseSubnets(TEST_LABS, run);
    if (problems.length > 0) throw new Error(`lab-global-teardown: labs left behind:\n${problems.join('\n')}`);
  };
}

function resolveJsToTs(): void {
  const m = Module as unknown as { _resolveFilename: Resolve & { magratheaTs?: true } };
  if (m._resolveFilename.magratheaTs) return;
  const original = m._resolveFilename;
  const resolve: Resolve & { magratheaTs?: true } = function (this: unknown, request, parent, ...rest) {
    try {
      return original.call(this, request, parent, ...rest);
    } catch (e) {
      if (!/^\.\.?\/.*\.js$/.test(request)) throw e;
      return original.call(this, `${request.slice(0, -3)}.ts`, parent, ...rest);
    }
  };
  resolve.magratheaTs = true;
  m._resolveFilename = resolve;
}
