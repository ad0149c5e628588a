/**
 * Validators for every value that reaches a rendered file or a command line.
 * Each returns undefined when the value is acceptable, or a message saying
 * what is wrong and what is allowed. They are strict on purpose: a config
 * validator passing does not mean a value escaped (newlines, quotes, `#`,
 * `${...}` all pass Apache, VCL and HAProxy syntax checks while changing
 * what the file means), so values are checked here before any escaping.
 */
export type Check = (value: string) => string | undefined;

/**
 * App, environment, cluster and host names. Tighter than `[a-z][a-z0-9-]*`:
 * no trailing or doubled dash, so that names are valid DNS labels and
 * `_`-joined identifiers (`b_shop_production_web-1`) can never collide.
 */
const NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;
export const checkName: Check = (value) =>
  NAME.test(value)
    ? undefined
    : `${show(value)} is not a valid name: 1 to 40 characters of a-z, 0-9 and single dashes, starting with a letter, not ending with a dash`;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const checkDomain: Check = (value) => {
  if (value !== value.toLowerCase()) return `${show(value)} is not a valid domain: use lower case`;
  if (value.startsWith('*.')) return `${show(value)}: wildcard domains are not supported; list each domain`;
  const labels = value.split('.');
  if (value.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    return `${show(value)} is not a valid domain: expected a host name like app.example.com (a-z, 0-9, dashes, dots; no port, no scheme)`;
  }
  return undefined;
};

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Variables that change how a process starts rather than what the app
 * reads: the dynamic loader's, the shells' start-up files and parsing,
 * PHP's ini search, other interpreters' preloads, and those Magrathea sets
 * itself. The release hook and `shell` source the app's variables before
 * running anything, so one of these would run code of the app's choosing
 * in a way nobody reading the hook expects.
 */
const RESERVED_ENV_KEYS = new Set([
  'PATH', 'HOME', 'TMPDIR', 'SHELL', 'USER', 'LOGNAME', 'ENV', 'BASH_ENV', 'IFS', 'CDPATH', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND',
  'GLOBIGNORE', 'PHPRC', 'PHP_INI_SCAN_DIR', 'PHP_VALUE', 'PHP_ADMIN_VALUE', 'GCONV_PATH', 'GLIBC_TUNABLES', 'LOCPATH', 'NLSPATH', 'HOSTALIASES',
  'RES_OPTIONS', 'LOCALDOMAIN', 'PERL5LIB', 'PERL5OPT', 'PERLLIB', 'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME', 'NODE_OPTIONS', 'RUBYOPT', 'RUBYLIB',
  'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_CONFIG_GLOBAL',
]);

export const checkEnvKey: Check = (value) => {
  if (!ENV_KEY.test(value)) return `${show(value)} is not a valid variable name: letters, digits and _, not starting with a digit, at most 128 characters`;
  if (RESERVED_ENV_KEYS.has(value) || value.startsWith('LD_') || value.startsWith('BASH_FUNC_') || value.startsWith('MALLOC_')) {
    return `${show(value)} changes how programs start (loader, shell, PHP or interpreter settings): it cannot be set for an app`;
  }
  return undefined;
};

/**
 * Environment values may hold any printable text (passwords do), since they
 * reach only the PHP-FPM pool, where they are written in single-quoted
 * segments that the INI reader takes literally. Control characters have no
 * safe spelling there, and no business in a variable.
 */
export const checkEnvValue: Check = (value) => {
  if (value.length === 0) return 'value is empty; PHP-FPM cannot pass an empty variable: remove it, or give it a value';
  if (value.length > 4096) return `value is ${value.length} characters long; at most 4096 are allowed`;
  const control = /[\u0000-\u001f\u007f]/.exec(value);
  if (control) return `value contains a control character (${describeChar(control[0])}); only printable text is allowed`;
  return undefined;
};

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** A path inside the release: relative, `/`-separated, no `.` or `..` segments, no odd characters. */
export const checkRelativePath: Check = (value) => {
  const segments = value.split('/');
  if (value.length === 0 || value.length > 200 || !segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
    return `${show(value)} is not a valid path: relative to the app's root, made of a-z, A-Z, 0-9, '.', '_', '-' and '/', without '..' (like public or storage/app)`;
  }
  return undefined;
};

/** The document root: a relative path, or `.` for the app's root itself. */
export const checkDocroot: Check = (value) => (value === '.' ? undefined : checkRelativePath(value));

export const checkPhpVersion: Check = (value) =>
  /^[5-9]\.[0-9]{1,2}$/.test(value) ? undefined : `${show(value)} is not a PHP version: expected major.minor, like 8.2 (quote it in YAML: "8.2")`;

/**
 * Branch and tag names: stricter than git's own rules (which let `;`, `$`,
 * quotes and any Unicode through), since they reach messages, job data and
 * command lines.
 */
function isRefName(value: string): boolean {
  return (
    /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(value) &&
    !value.includes('..') &&
    !value.includes('//') &&
    !value.endsWith('/') &&
    !value.endsWith('.lock') &&
    !value.endsWith('.')
  );
}

export const checkBranch: Check = (value) => (isRefName(value) ? undefined : `${show(value)} is not a valid branch name (letters, digits, '.', '_', '-', '/')`);

export const checkTag: Check = (value) => (isRefName(value) ? undefined : `${show(value)} is not a valid tag name (letters, digits, '.', '_', '-', '/')`);

/** A duration as Varnish spells it: `120s`, `5m`, `1h`, `500ms`. */
export const checkDuration: Check = (value) =>
  /^[0-9]{1,6}(?:ms|s|m|h|d|w|y)$/.test(value) ? undefined : `${show(value)} is not a duration: a whole number and a unit (ms, s, m, h, d, w, y), like 120s`;

/** How long a deploy's health check may wait: a duration from 1s to 10m. */
export const checkHealthTimeout: Check = (value) => {
  const problem = checkDuration(value);
  if (problem) return problem;
  const seconds = durationSeconds(value);
  return seconds >= 1 && seconds <= 600 ? undefined : `${show(value)} is not between 1s and 10m`;
};

export function durationSeconds(value: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d|w|y)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}

/**
 * A URL regular expression for Varnish (PCRE2). VCL strings have no escape
 * sequences, so a double quote or a line break would end the string: both are
 * refused, as is anything the JavaScript engine cannot compile (varnishd -C
 * checks the rest when the file is validated).
 */
export const checkUrlRegex: Check = (value) => {
  if (value.length === 0 || value.length > 200) return 'a URL pattern must be 1 to 200 characters long';
  if (/["\u0000-\u001f\u007f]/.test(value)) return `${show(value)}: a URL pattern may not contain double quotes or control characters`;
  if (value.includes('(?{') || value.includes('(*')) return `${show(value)}: PCRE verbs and code blocks are not allowed`;
  try {
    new RegExp(value);
  } catch (e) {
    return `${show(value)} is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  return undefined;
};

/** A health-check path: absolute, query allowed, nothing a config format would read as syntax. */
export const checkUrlPath: Check = (value) =>
  /^\/[A-Za-z0-9._~/%=&?+,:@-]{0,199}$/.test(value)
    ? undefined
    : `${show(value)} is not a valid path: it must start with / and use only letters, digits and . _ ~ / % = & ? + , : @ -`;

export function checkInteger(min: number, max: number): Check {
  return (value) => {
    if (!/^-?[0-9]{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
      return `${show(value)} is not a whole number between ${min} and ${max}`;
    }
    return undefined;
  };
}

/** A shell command the app's owner wrote (build steps, release hook): one line of printable text. */
export const checkCommand: Check = (value) => {
  if (value.trim().length === 0) return 'command is empty';
  if (value.length > 2000) return `command is ${value.length} characters long; at most 2000 are allowed`;
  const control = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(value);
  if (control) return `command contains a control character (${describeChar(control[0])}); write one command per list item`;
  return undefined;
};

export function show(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(shown);
}

function describeChar(c: string): string {
  const names: Record<string, string> = { '\n': 'newline', '\r': 'carriage return', '\t': 'tab', '\u0000': 'NUL' };
  return names[c] ?? `U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
}
