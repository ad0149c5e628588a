/**
 * The least `process_control_timeout` (php-fpm.conf, [global]) a web host
 * must have. On a reload FPM asks its workers to finish their request and
 * waits this long before killing them; Debian's default, 0, kills them at
 * once, and every request in flight on the host answers 503. Ten seconds
 * refuses the default and token values; a host should set it above its
 * apps' longest request (README: What a real web host must provide).
 */
export const MIN_PROCESS_CONTROL_TIMEOUT = 10;

/**
 * `process_control_timeout` in seconds, from what `php-fpm -tt` prints (the
 * effective configuration, every value normalised: `process_control_timeout = 30s`);
 * undefined when it says nothing of it.
 */
export function readProcessControlTimeout(fpmTestOutput: string): number | undefined {
  const found = /\bprocess_control_timeout = (\d+)s\s*$/m.exec(fpmTestOutput);
  return found ? Number(found[1]) : undefined;
}
