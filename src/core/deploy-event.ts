/**
 * What a deploy, a rollback or a push reports while it runs, one event at
 * a time: the structured stream of the HTTP API (JSON lines, or
 * Server-Sent Events), and the lines of `git push`'s `remote:` output and
 * of the command line, which are rendered from the same events.
 */

/** Where in a deploy an event is: the deployer's steps, with what comes before and after them. */
export const DEPLOY_PHASES = ['queue', 'source', 'release', 'build', 'wait', 'connect', 'send', 'database', 'prepare', 'check', 'hook', 'switch', 'activate', 'verify', 'cleanup', 'rollback', 'purge', 'result'] as const;
export type DeployPhase = (typeof DEPLOY_PHASES)[number];

/** `started`/`done`/`failed`: a phase (of a cluster or of one host) began or ended; `info`/`warning`: something to know. */
export type DeployEventStatus = 'started' | 'done' | 'failed' | 'info' | 'warning';

export interface DeployEvent {
  phase: DeployPhase;
  status: DeployEventStatus;
  cluster?: string;
  host?: string;
  /** The release being deployed (or rolled back to), once it has an id. */
  release?: string;
  /** Since the job started on its worker. */
  elapsedMs: number;
  /** The event as one line for a person. */
  message: string;
  /** false: not a line of the push or the command line (each host's end of a step), only in the structured stream. */
  line?: false;
}

/** What the deployer says with a line: where it is, when that is more than the line itself. */
export type EventMeta = Partial<Pick<DeployEvent, 'phase' | 'status' | 'cluster' | 'host' | 'release' | 'line'>>;

/** How the deployer reports: a line for a person, and where it is. */
export type ProgressLog = (line: string, meta?: EventMeta) => void;

/** The line a person sees for an event; undefined for an event only the structured stream carries. */
export function eventLine(event: DeployEvent): string | undefined {
  return event.line === false ? undefined : event.message;
}

/**
 * Makes the events of one job from its lines: each takes the phase its
 * cluster (or the job, for lines of no cluster) was last in when it names
 * none, the release last named, and the time since `started`.
 */
export function eventMaker(started: number): (line: string, meta: EventMeta | undefined, now: number) => DeployEvent {
  const phases = new Map<string, DeployPhase>();
  let release: string | undefined;
  return (line, meta = {}, now) => {
    const scope = meta.cluster ?? '';
    const phase = meta.phase ?? phases.get(scope) ?? phases.get('') ?? 'queue';
    if (meta.phase && meta.line !== false) phases.set(scope, meta.phase);
    release = meta.release ?? release;
    return {
      phase,
      status: meta.status ?? 'info',
      ...(meta.cluster ? { cluster: meta.cluster } : {}),
      ...(meta.host ? { host: meta.host } : {}),
      ...(release ? { release } : {}),
      elapsedMs: Math.max(0, Math.round(now - started)),
      message: line,
      ...(meta.line === false ? { line: false as const } : {}),
    };
  };
}
