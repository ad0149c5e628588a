import type { ClusterConfig } from './config/types.js';
import type { InstanceConfig } from './manifest/types.js';

/**
 * Advice for apps ready for the cloud: a few lines on each push, drawn from
 * the app's configuration, its release tree and its clusters, each pointing
 * to a section of docs/cloud-ready.md. Pure: the deployer gathers the facts.
 */
export type CloudReadySection = 'config-from-the-environment' | 'state' | 'sessions' | 'logs' | 'release-hooks' | 'health-endpoints' | 'php-extensions' | 'pushing-from-ci';

export interface Advice {
  /** `warning`: something users will see go wrong (a file missing half the time); `advice`: a habit worth taking. */
  level: 'warning' | 'advice';
  text: string;
  section: CloudReadySection;
}

/** The guide the advice points to, as it is named in the repository. */
export const CLOUD_READY_GUIDE = 'docs/cloud-ready.md';

export function formatAdvice(advice: Advice): string {
  return `${advice.level}: ${advice.text} (see ${CLOUD_READY_GUIDE}#${advice.section})`;
}

/** What the deployer found in the release tree, for the paths `releasePathsToCheck` asked about. */
export interface ReleaseFacts {
  /** Each path asked about, relative to the release root: what is there. */
  paths: Record<string, 'file' | 'dir' | 'absent'>;
  /** The docroot's .htaccess may hand unknown paths to a front controller (it has a RewriteRule; FallbackResource is not allowed there). */
  frontController: boolean;
  /** Some PHP file of the release starts or uses PHP sessions. */
  usesSessions: boolean;
}

/**
 * Whether the advice would speak of the app's PHP sessions on this cluster
 * (several web hosts and no session store): only then is the release scanned
 * for them, which costs a read of each of its PHP files.
 */
export function sessionsMatterOn(cluster: ClusterConfig): boolean {
  return cluster.hosts.filter((h) => h.roles.includes('web')).length > 1 && cluster.sessions === undefined;
}

/** The release paths the advice looks at: the health path's candidates, and a committed `.env`. */
export function releasePathsToCheck(instance: InstanceConfig): string[] {
  return [...healthCandidates(instance), '.env'];
}

/** Where Apache would find the health path in the release: the file, the PHP file, a directory's index. */
function healthCandidates(instance: InstanceConfig): string[] {
  const path = instance.health.path.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const base = [instance.docroot === '.' ? '' : instance.docroot, path.replace(/^\/+/, '')].filter(Boolean).join('/');
  const index = ['index.php', 'index.html', 'index.htm'].map((name) => (base ? `${base}/${name}` : name));
  return base && path ? [base, `${base}.php`, ...index] : index;
}

/** The advice for one instance on one cluster. */
export function adviseInstance(instance: InstanceConfig, cluster: ClusterConfig, facts: ReleaseFacts): Advice[] {
  const advice: Advice[] = [];
  const web = cluster.hosts.filter((h) => h.roles.includes('web')).length;
  if (web > 1 && cluster.storage === undefined) {
    for (const dir of instance.shared) {
      advice.push({
        level: 'warning',
        text: `${cluster.name} has ${web} web hosts and no storage: shared dir "${dir}" is kept on each of them apart, so a file written through one host is missing on the others (declare storage for ${cluster.name} in clusters.yml, or keep this state in a database)`,
        section: 'state',
      });
    }
  }
  if (facts.usesSessions && sessionsMatterOn(cluster)) {
    advice.push({
      level: 'advice',
      text: `${cluster.name} has ${web} web hosts and no session store declared: PHP sessions are files on the host that started them, each browser is pinned to that host by a cookie, and loses its session when that host is down or taken out`,
      section: 'sessions',
    });
  }
  const health = healthCandidates(instance);
  if (!facts.frontController && health.every((p) => facts.paths[p] !== 'file')) {
    advice.push({
      level: 'advice',
      text: `health path ${instance.health.path} is not a file of the release (looked for ${health.join(', ')}), and no front controller answers unknown paths: every deploy's check will fail; add a page that answers ${instance.health.status} when the app can serve`,
      section: 'health-endpoints',
    });
  }
  if (facts.paths['.env'] === 'file') {
    advice.push({
      level: 'advice',
      text: 'the release holds a .env file: configuration and secrets belong in magrathea.yml env and config vars (config:set), which every host gets as environment variables',
      section: 'config-from-the-environment',
    });
  }
  return advice;
}

/** Advice for a release hook's failure, from its output: a hook that writes into the release, which is read-only. */
export function adviseHookFailure(output: string): Advice[] {
  if (!/Permission denied|EACCES|Read-only file system|EROFS/.test(output)) return [];
  return [
    {
      level: 'advice',
      text: 'the release hook was refused a write: the release is read-only to the app on every host; write to a shared dir, to tmp/, or to a database, and build caches in build: (on the gateway)',
      section: 'release-hooks',
    },
  ];
}

/**
 * The PHP extensions composer.json requires (`"require": {"ext-gd": "*"}`),
 * lowercased, without the `ext-` prefix. `require-dev` is left out: dev
 * dependencies are not installed on the hosts. Unreadable JSON gives none
 * (composer itself reports it at build time).
 */
export function requiredExtensions(composerJson: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(composerJson);
  } catch {
    return [];
  }
  const require = (parsed as { require?: unknown } | null)?.require;
  if (!require || typeof require !== 'object' || Array.isArray(require)) return [];
  const names = Object.keys(require)
    .filter((key) => /^ext-[A-Za-z0-9_-]+$/.test(key))
    .map((key) => key.slice(4).toLowerCase());
  return [...new Set(names)].sort();
}

/**
 * The required extensions that `php -m` does not list. It names Zend
 * extensions with a prefix (`Zend OPcache`) and some in other cases
 * (`SimpleXML`); composer names them in lowercase, with `-` or `_`.
 */
export function missingExtensions(required: readonly string[], phpModules: string): string[] {
  const normal = (name: string): string => name.toLowerCase().replace(/^zend[ _-]/, '').replace(/[-_ ]/g, '');
  const loaded = new Set(
    phpModules
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('['))
      .map(normal),
  );
  return required.filter((name) => !loaded.has(normal(name)));
}
