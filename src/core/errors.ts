import { formatProblem, type Problem } from './source.js';

/**
 * An error a user can act on. `code` is stable for scripts, `exitStatus` is
 * what the command line exits with, `retryable` says whether trying again
 * (a job retry, a second push) can help.
 */
export class MagratheaError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitStatus = 1,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MagratheaError';
  }
}

/** Input that does not validate: one `file:line:col: message` line per problem. */
export class InvalidInputError extends MagratheaError {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'), 'invalid-input', 1, false);
    this.name = 'InvalidInputError';
  }
}

/** The command line was wrong: unknown command, missing argument, bad flag. */
export class UsageError extends MagratheaError {
  constructor(message: string, code = 'usage') {
    super(message, code, 2, false);
    this.name = 'UsageError';
  }
}

/** An app named that the gateway does not have (exit 2, like any bad argument; the HTTP API answers 404). */
export class NoAppError extends UsageError {
  constructor(app: string, hint = '') {
    super(`no app ${app}${hint}`, 'no-app');
    this.name = 'NoAppError';
  }
}

/** A deploy job that is not one of the app's (none with that id, or another app's: the same answer); the HTTP API answers 404. */
export class NoDeployError extends UsageError {
  constructor(app: string, jobId: string) {
    super(`no deploy job ${jobId} of app ${app} ("deploys ${app}" lists those queued or running)`, 'no-deploy');
    this.name = 'NoDeployError';
  }
}

/** A command that failed with a result still worth showing (status --check: the report, then why it failed). */
export class CommandFailure extends MagratheaError {
  constructor(
    message: string,
    code: string,
    readonly result: unknown,
  ) {
    super(message, code, 1, false);
    this.name = 'CommandFailure';
  }
}
