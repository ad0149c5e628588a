/**
 * Brings down and removes every lab of this run, whatever the tests did,
 * and fails the run if one could not be brought down whole. The work is
 * the closure lab-global-setup.ts left (see there why).
 */
export default async function labGlobalTeardown(): Promise<void> {
  await (globalThis as { magratheaLabTeardown?: () => Promise<void> }).magratheaLabTeardown?.();
}
