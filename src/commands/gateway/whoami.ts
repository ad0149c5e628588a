import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';

interface Identity {
  user: string;
  role: string;
  apps: string[];
  verbs: string[];
  clusters: string[];
  domains: string[];
}

/** `whoami`: who the gateway takes you for, and what users.yml lets you do. */
export default defineCommand<Identity>({
  name: 'whoami',
  summary: 'who the gateway takes you for: your user, role, and the apps, verbs, clusters and domains users.yml gives you',
  usage: '[--json]',
  args: { booleans: ['json'] },
  need: 'none',
  surfaces: EVERYWHERE,
  async run(_args, ctx) {
    const { name, role, apps, verbs, clusters, domains } = ctx.user;
    return { user: name, role, apps, verbs, clusters, domains };
  },
  text: (i) => (i.role === 'admin' ? `${i.user} (admin: every app, verb and cluster)\n` : `${i.user} (member)\napps      ${i.apps.join(', ') || '-'}\nverbs     ${i.verbs.join(', ') || '-'}\nclusters  ${i.clusters.join(', ') || '-'}\ndomains   ${i.domains.join(', ') || '-'}\n`),
});
