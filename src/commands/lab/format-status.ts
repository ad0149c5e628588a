import { formatTable } from '../../core/table.js';
import type { LabStatus } from '../../lab/status.js';

/** The human view of a lab: one line per host, its services marked up or down. */
export function formatStatus(status: LabStatus): string {
  const rows = status.hosts.map((h) => [h.name, h.cluster, h.address, h.roles.join(','), h.services.map((s) => `${s.name} ${s.up ? 'up' : 'DOWN'}`).join(', ')]);
  const down = status.hosts.flatMap((h) => h.services.filter((s) => !s.up).map((s) => `${h.name} ${s.name} (${s.endpoint})`));
  const running = status.hosts.some((h) => h.services.some((s) => s.up));
  const state = status.up ? 'up' : running ? `NOT up: ${down.length} service(s) down: ${down.join(', ')}` : 'down (magrathea lab up starts it)';
  return [
    `lab ${status.dir}: ${state}`,
    `config   ${status.config}`,
    `ssh      ssh -F ${status.ssh.config} ${status.hosts[0]?.name ?? '<host>'} [command]`,
    ...status.edges.map((e) => `edge     ${e.cluster}  ${e.url}  (${e.host})`),
    '',
    formatTable([['HOST', 'CLUSTER', 'ADDRESS', 'ROLES', 'SERVICES'], ...rows]),
  ].join('\n');
}
