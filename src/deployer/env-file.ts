import type { HostConfig } from '../core/config/types.js';
import { interpolate } from '../core/interpolate.js';
import type { InstanceConfig } from '../core/manifest/types.js';

/**
 * The instance's environment for one host as a file that `sh` sources
 * (`set -a; . file`): the release hook and `shell` get the same variables
 * as PHP-FPM. Values are single-quoted: nothing in them is expanded.
 */
export function envFile(instance: InstanceConfig, host: HostConfig): string {
  const lines = Object.entries(instance.envTemplates).map(([key, template]) => {
    const result = interpolate(template, { host: host.name }, true);
    const value = 'value' in result ? result.value : template;
    return `${key}='${value.replaceAll("'", `'\\''`)}'`;
  });
  return `# Managed by Magrathea\n${lines.join('\n')}\n`;
}
