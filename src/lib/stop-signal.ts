/**
 * Resolves at the first SIGINT or SIGTERM, with its name. The listeners stay
 * installed until the process ends: with none left, Node's default would
 * kill the process in the middle of the cleanup this promise starts. A second signal while cleaning up is
 * ignored; SIGKILL remains for the impatient.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => resolve(signal);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
