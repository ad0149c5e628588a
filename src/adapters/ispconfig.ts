import type { ClusterConfig, IspconfigConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';

/**
 * A client of an ISPConfig panel's remote JSON API (`POST
 * <url>?<method>`, a JSON body of the PHP parameters by name; the answer is
 * always HTTP 200 with `{code, message, response}`). Every call to a panel
 * goes through here. One login per client, reused by every call of one
 * operation, then logout(): the panel keeps each session 30 minutes.
 *
 * The panel's JSON answer carries a fault's message, not its code: the
 * codes Magrathea acts on are read back from the messages the panel's
 * source throws them with.
 */
export interface PanelSettings {
  /** The remote API's URL: `https://panel.example.com:8080/remote/json.php`. */
  url: string;
  user: string;
  password: string;
  /** Milliseconds one call may take. Default 30 000. */
  timeoutMs?: number;
}

/** What the panel refused or failed, named: `login_failed`, `permission_denied`, `database_name_error_regex`, ... */
export type PanelFault = string;

const FAULTS: [RegExp, PanelFault][] = [
  [/^The login failed\. Username or password wrong/, 'login_failed'],
  [/^The login is not allowed from/, 'login_failed'],
  [/^The login failure limit has been reached/, 'login_failure_limit'],
  [/^You do not have the permissions to access this function/, 'permission_denied'],
  [/^The Session is expired or does not exist/, 'session_does_not_exist'],
  [/^This ISPConfig installation is currently under maintenance/, 'maintenance_mode'],
  [/^There is already a database with that name/, 'database_name_error_unique'],
  [/^There is no user account for this user name/, 'no_client_found'],
];

/** A refusal or failure of the panel: one line naming the cluster, the call and the panel's words. */
export class PanelError extends MagratheaError {
  constructor(
    readonly cluster: string,
    readonly method: string,
    readonly fault: PanelFault,
    readonly panelMessage: string,
    retryable = false,
  ) {
    super(`${cluster}: ISPConfig ${method}: ${fault}: ${panelMessage.replace(/\s+/g, ' ').trim()}${advice(method, fault)}`, `ispconfig-${fault.replace(/_/g, '-')}`, 1, retryable);
    this.name = 'PanelError';
  }
}

function advice(method: string, fault: PanelFault): string {
  if (fault === 'login_failed') return ' (the remote user and the password in its password_file must be the panel\'s; not retried: the panel locks an address out after 10 failures in 5 minutes)';
  if (fault === 'login_failure_limit') return ' (the panel locked this address out after 10 failed logins; it lets it in again 5 minutes after the last one)';
  if (fault === 'permission_denied') return ` (grant the remote user the function group that holds ${method} in the panel: System > Remote Users)`;
  return '';
}

/** The fault a message of the panel stands for; an error of a form's field names its rule (`database_name_error_regex`). */
export function panelFault(message: string): PanelFault {
  for (const [pattern, fault] of FAULTS) if (pattern.test(message)) return fault;
  return /\b([a-z]+(?:_[a-z]+)*_error(?:_[a-z]+)*)\b/.exec(message)?.[1] ?? 'remote_fault';
}

export class PanelClient {
  private session: string | undefined;
  private loggingIn: Promise<string> | undefined;

  /** The client of the panel clusters.yml gives `cluster`. */
  static of(cluster: { name: string; ispconfig: Pick<IspconfigConfig, 'url' | 'user' | 'password'> }): PanelClient {
    return new PanelClient(cluster.name, { url: cluster.ispconfig.url, user: cluster.ispconfig.user, password: cluster.ispconfig.password });
  }

  constructor(
    /** The cluster the panel manages, for messages. */
    readonly cluster: string,
    private readonly settings: PanelSettings,
  ) {}

  /** One call with the session's id (logging in first when needed); the panel's `response`. */
  async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const session_id = await this.login();
    return this.post<T>(method, { session_id, ...params });
  }

  /** Logs in once; a refusal is never retried (the panel locks out an address that fails 10 times). */
  login(): Promise<string> {
    if (this.session) return Promise.resolve(this.session);
    this.loggingIn ??= this.post<string>('login', { username: this.settings.user, password: this.settings.password }).then(
      (id) => {
        if (typeof id !== 'string' || id === '') throw new PanelError(this.cluster, 'login', 'remote_fault', `no session id in the answer (${JSON.stringify(id)})`);
        this.session = id;
        return id;
      },
      (e: unknown) => {
        this.loggingIn = undefined;
        throw e;
      },
    );
    return this.loggingIn;
  }

  /** Ends the session, when there is one; failing to (the panel gone) only leaves it to expire. */
  async logout(): Promise<void> {
    const id = this.session;
    this.session = undefined;
    this.loggingIn = undefined;
    if (id) await this.post('logout', { session_id: id }).catch(() => undefined);
  }

  private async post<T>(method: string, body: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.settings.url}?${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.settings.timeoutMs ?? 30_000),
      });
    } catch (e) {
      const why = (e as Error).name === 'TimeoutError' ? `no answer within ${(this.settings.timeoutMs ?? 30_000) / 1000} s` : ((e as { cause?: Error }).cause?.message ?? (e as Error).message);
      throw new PanelError(this.cluster, method, 'unreachable', `${this.settings.url}: ${why}`, true);
    }
    const text = await response.text();
    let answer: { code?: string; message?: string; response?: unknown };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw new PanelError(this.cluster, method, 'not_json', `HTTP ${response.status} from ${this.settings.url}, not the remote API's JSON: ${text.slice(0, 120)}`, response.status >= 500);
    }
    if (answer.code === 'ok') return answer.response as T;
    const message = answer.message ?? '';
    throw new PanelError(this.cluster, method, answer.code === 'remote_fault' ? panelFault(message) : (answer.code ?? 'remote_fault'), message);
  }
}

/** A client of the cluster's panel, logged out after `action`. */
export async function withPanel<T>(cluster: Pick<ClusterConfig, 'name'> & { ispconfig: IspconfigConfig }, action: (api: PanelClient) => Promise<T>): Promise<T> {
  const api = PanelClient.of(cluster);
  try {
    return await action(api);
  } finally {
    await api.logout();
  }
}
