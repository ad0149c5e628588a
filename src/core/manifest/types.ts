import type { SourcePosition } from '../source.js';

/** A value of one layer: a string or a list of strings, and where it was written. */
export interface LayerValue {
  value: string | string[];
  position: SourcePosition;
  /** For lists, where each item is written. */
  items?: SourcePosition[];
}

/**
 * One layer of configuration, flattened to leaf paths: `stack.php`,
 * `env.APP_ENV`, `domains`. Merging layers is then replacing leaves, which is
 * exactly "maps merge by key, lists and scalars replace".
 */
export type Layer = Map<string, LayerValue>;

export type Strategy = 'rolling' | 'parallel';

export interface EnvironmentDef {
  name: string;
  /** The branch that feeds it, or its pattern (`review/*`) when `pattern`. */
  branch: string;
  /** Fed by every branch matching `branch`, each branch its own instance (`review-x`): see branch-pattern.ts. */
  pattern: boolean;
  /**
   * Set on one branch's instance of a pattern environment (findEnvironment
   * gives it, named `review-x`): the environment of the manifest it comes
   * from and what `${branch}` is for it.
   */
  review?: { environment: string; slug: string };
  clusters: string[];
  /** Where each cluster of `clusters` is written. */
  clusterPositions: SourcePosition[];
  strategy: Strategy;
  layer: Layer;
  position: SourcePosition;
}

/** A parsed and validated `magrathea.yml`. */
export interface Manifest {
  file: string;
  base: Layer;
  environments: EnvironmentDef[];
  clusters: Map<string, { layer: Layer; position: SourcePosition }>;
}

/** Config vars set on the gateway for an app (`config:set app KEY=V`) and per cluster (`app@cluster`). */
export interface ConfigVars {
  app: Record<string, string>;
  clusters: Record<string, Record<string, string>>;
  /** For a review instance (`review-x`): the config vars of its pattern environment (`review`), which its own override. */
  environment?: { name: string; app: Record<string, string>; clusters: Record<string, Record<string, string>> };
}

export type LayerName =
  | 'default'
  | 'base'
  | `environments.${string}`
  | `clusters.${string}`
  | 'config vars'
  | `config vars @${string}`
  | `config vars of ${string}`
  | `config vars of ${string} @${string}`;

export interface Origin {
  layer: LayerName;
  position?: SourcePosition;
  items?: SourcePosition[];
}

/** `mysql`: a MariaDB or MySQL database per instance on its cluster's db host; `none`: no database (a layer turning it off). */
export const DATABASE_ENGINES = ['mysql', 'none'] as const;

/** What the app is told of its database, each under a name the manifest may choose. */
export const DATABASE_FIELDS = ['url', 'host', 'port', 'name', 'user', 'password'] as const;
export type DatabaseField = (typeof DATABASE_FIELDS)[number];

/** The names frameworks read most (Laravel's, and DATABASE_URL): the defaults. */
export const DEFAULT_DATABASE_VARS: Readonly<Record<DatabaseField, string>> = {
  url: 'DATABASE_URL',
  host: 'DB_HOST',
  port: 'DB_PORT',
  name: 'DB_DATABASE',
  user: 'DB_USERNAME',
  password: 'DB_PASSWORD',
};

/** The instance's database: its engine and the variable name of each field. */
export interface AppDatabase {
  engine: 'mysql';
  vars: Record<DatabaseField, string>;
}

/** Everything Magrathea needs to know about one app, in one environment, on one cluster. */
export interface InstanceConfig {
  app: string;
  env: string;
  cluster: string;
  branch: string;
  strategy: Strategy;
  php: string;
  /** Relative to the release root; '.' for the root itself. */
  docroot: string;
  domains: string[];
  /**
   * Environment variables as templates: `${host}` is still to be replaced
   * per host (see interpolate), and `$$` stands for `$`.
   */
  envTemplates: Record<string, string>;
  shared: string[];
  build: string[];
  /** `timeout` as written (`5m`), `timeoutSeconds` the same in seconds. */
  hooks: { release?: string; timeout?: string; timeoutSeconds?: number };
  cache: { ttl: string; pass: string[] };
  /** `timeout`: how long a deploy's check waits for `status` at `path` after a switch (as written; `timeoutSeconds` in seconds). */
  health: { path: string; status: number; timeout: string; timeoutSeconds: number };
  /** Absent: the instance has no database of Magrathea's. */
  database?: AppDatabase;
  /** For each leaf path, the layer it came from. */
  origins: Record<string, Origin>;
}
