import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GatewayConfig } from '../../src/core/config/types.js';
import type { DeployOutcome } from '../../src/deployer/types.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';
import { sshRun, useLab } from '../helpers/lab.js';
import { PHP_CONNECT } from '../helpers/php-database.js';

/**
 * A database per instance on each cluster's db host (the lab runs a MariaDB
 * on each edge): made at deploy before the release hook, its credentials
 * given to the app as env vars, different on each cluster, and one app's
 * user refused on another's database. The trees go to deploy() as built
 * releases would.
 */
const APP = 'dbt-notes';
const OTHER = 'dbt-other';

let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;


function manifest(clusters: string, extra: string[] = []): string {
  return [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.db.example.com"]',
    'health: { path: /health.php }',
    'database: { engine: mysql }',
    // The hook runs where the app does, with its env: a migration.
    'hooks: { release: "php migrate.php" }',
    'environments:',
    `  production: { branch: master, clusters: [${clusters}] }`,
    ...extra,
  ].join('\n');
}

const NOTES: Record<string, string> = {
  'public/health.php': '<?php echo "ok";',
  'migrate.php': `<?php ${PHP_CONNECT} $m->query("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(200))") or exit(3); echo "migrated ", getenv("DB_DATABASE"), "\n";`,
  'public/add.php': `<?php ${PHP_CONNECT} $s = $m->prepare("INSERT INTO notes (body) VALUES (?)"); $b = $_GET["body"]; $s->bind_param("s", $b); $s->execute(); echo "added\\n";`,
  'public/list.php': `<?php ${PHP_CONNECT} foreach ($m->query("SELECT body FROM notes ORDER BY id") as $r) echo $r["body"], "\\n";`,
  'public/who.php': '<?php echo getenv("DB_USERNAME"), " ", getenv("DB_DATABASE"), " ", sha1(getenv("DB_PASSWORD")), " ", getenv("DATABASE_URL") !== false ? "url" : "-", "\\n";',
};

/** Tries another database with this app's own user. */
const PEEK: Record<string, string> = {
  'public/health.php': '<?php echo "ok";',
  'public/peek.php': '<?php mysqli_report(MYSQLI_REPORT_OFF); $m = @new mysqli(getenv("DB_HOST"), getenv("DB_USERNAME"), getenv("DB_PASSWORD"), $_GET["db"], (int) getenv("DB_PORT")); echo $m->connect_errno ? "refused: " . $m->connect_error : "connected", "\\n";',
};

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;
const page = async (cluster: string, app: string, path: string) => (await curl(`${edge(cluster)}${path}`, `${app}.db.example.com`)).body;

async function deployNotes(clusters: string, gateway = config): Promise<{ result: DeployOutcome; lines: string[] }> {
  return harness.deployTree(APP, NOTES, manifest(clusters), { gateway });
}

beforeAll(async () => {
  lab = await useLab();
  harness = await openDeployHarness(lab.config, 'database-test');
  ({ config } = harness);
}, 120_000);

afterAll(async () => {
  // The databases and users this suite made, off each cluster's db host.
  for (const edgeHost of lab.hosts.filter((h) => h.roles.includes('db'))) {
    await sshRun(lab, edgeHost.name, ['mariadb', '-e', "DROP DATABASE IF EXISTS `m_dbt-notes_production`; DROP DATABASE IF EXISTS `m_dbt-other_production`; DROP USER IF EXISTS 'm_dbt-notes_production'@'127.0.0.1'; DROP USER IF EXISTS 'm_dbt-other_production'@'127.0.0.1';"]).catch(() => undefined);
  }
  await harness?.close();
});

describe('a database per instance', () => {
  it('is made before the release hook, on each cluster, and the app reads and writes it through each edge', async () => {
    const { result, lines } = await deployNotes('cluster-a, cluster-b');
    expect(result.ok).toBe(true);
    expect(lines.join('\n')).toMatch(/cluster-a: database m_dbt-notes_production on a-edge/);
    expect(lines.filter((l) => /migrated m_dbt-notes_production/.test(l))).toHaveLength(2);
    expect(await page('cluster-a', APP, '/add.php?body=first')).toBe('added\n');
    expect(await page('cluster-a', APP, '/add.php?body=second')).toBe('added\n');
    expect(await page('cluster-b', APP, '/add.php?body=only-b')).toBe('added\n');
    // Every web host of a cluster reads the same rows; each cluster its own database.
    for (let i = 0; i < 4; i++) expect(await page('cluster-a', APP, '/list.php')).toBe('first\nsecond\n');
    expect(await page('cluster-b', APP, '/list.php')).toBe('only-b\n');
  }, 240_000);

  it('gives each cluster its own password ("similar but unique"), the same on every deploy', async () => {
    const a = await page('cluster-a', APP, '/who.php');
    const b = await page('cluster-b', APP, '/who.php');
    expect(a).toMatch(/^m_dbt-notes_production m_dbt-notes_production [0-9a-f]{40} url\n$/);
    expect(b.split(' ').slice(0, 2)).toEqual(a.split(' ').slice(0, 2));
    expect(b.split(' ')[2]).not.toBe(a.split(' ')[2]);
    const { result } = await deployNotes('cluster-a, cluster-b');
    expect(result.ok).toBe(true);
    expect(await page('cluster-a', APP, '/who.php')).toBe(a);
    // Redeployed: the rows are still there (made idempotently, never replaced).
    expect(await page('cluster-a', APP, '/list.php')).toBe('first\nsecond\n');
  }, 240_000);

  it('keeps one app out of another\'s database: its user is refused there', async () => {
    const { result } = await harness.deployTree(OTHER, PEEK, manifest('cluster-a').replace('hooks: { release: "php migrate.php" }\n', ''));
    expect(result.ok).toBe(true);
    expect(await page('cluster-a', OTHER, '/peek.php?db=m_dbt-other_production')).toBe('connected\n');
    expect(await page('cluster-a', OTHER, '/peek.php?db=m_dbt-notes_production')).toMatch(/^refused: Access denied for user 'm_dbt-other_production'@'[^']+' to database 'm_dbt-notes_production'/);
    expect(await page('cluster-a', OTHER, '/peek.php?db=mysql')).toMatch(/^refused: Access denied/);
  }, 240_000);

  it('refuses a deploy to a cluster without a db host, naming it, and changes nothing', async () => {
    const before = await page('cluster-b', APP, '/list.php');
    const withoutDb: GatewayConfig = { ...config, clusters: { ...config.clusters, 'cluster-b': { ...config.clusters['cluster-b']!, db: undefined } } };
    const releaseBefore = await page('cluster-a', APP, '/who.php');
    await expect(deployNotes('cluster-a, cluster-b', withoutDb)).rejects.toThrow(/^dbt-notes \(production\) declares a database .* and cluster cluster-b has no host of role db in clusters\.yml .*; nothing was deployed$/);
    expect(await page('cluster-a', APP, '/who.php')).toBe(releaseBefore);
    expect(await page('cluster-b', APP, '/list.php')).toBe(before);
  }, 240_000);
});
