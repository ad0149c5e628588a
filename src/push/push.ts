/** One push, as git-receive-pack hands it to its hooks. */
export interface Push {
  app: string;
  gitDir: string;
  /** Ties the pre-receive's push lock to the post-receive of the same push. */
  token: string;
  pusher: string;
  /** `git push -o cluster=NAME`. */
  options: readonly string[];
  /** Added to git's environment: the quarantine git-receive-pack gave its hook (the pushed objects are there until it is accepted). */
  gitEnv: Readonly<Record<string, string>>;
  say(line: string): void;
  /** Aborted when the gateway stops during the push: the hook stops following its deploy and rejects the push. */
  signal?: AbortSignal;
}
