import type { Command } from '../dispatch/command.js';
import accountingEdgeLog from './accounting/edge-log.js';
import accountingRun from './accounting/run.js';
import accountingWorker from './accounting/worker.js';
import appsCreate from './apps/create.js';
import appsDestroy from './apps/destroy.js';
import appsInfo from './apps/info.js';
import appsList from './apps/list.js';
import usage from './apps/usage.js';
import configDiff from './config/diff.js';
import configSet from './config/set.js';
import configShow from './config/show.js';
import configUnset from './config/unset.js';
import dbBackupsCapture from './db/backups-capture.js';
import dbBackupsList from './db/backups-list.js';
import dbBackupsRestore from './db/backups-restore.js';
import dbCopy from './db/copy.js';
import dbDestroy from './db/destroy.js';
import dbExport from './db/export.js';
import dbImport from './db/import.js';
import dbInfo from './db/info.js';
import ispconfigCheck from './ispconfig/check.js';
import dbRotate from './db/rotate.js';
import dbShell from './db/shell.js';
import audit from './gateway/audit.js';
import demo from './gateway/demo.js';
import doctor from './gateway/doctor.js';
import serve from './gateway/serve.js';
import status from './gateway/status.js';
import whoami from './gateway/whoami.js';
import worker from './gateway/worker.js';
import logs from './instances/logs.js';
import shell from './instances/shell.js';
import instancesRemove from './instances/remove.js';
import labDown from './lab/down.js';
import labStatus from './lab/status.js';
import labUp from './lab/up.js';
import explain from './manifest/explain.js';
import render from './manifest/render.js';
import validate from './manifest/validate.js';
import { postReceiveHook, preReceiveHook } from './push/hooks.js';
import deploy from './releases/deploy.js';
import deployRepo from './releases/deploy-repo.js';
import deploys from './deploys/deploys.js';
import deploysFollow from './deploys/follow.js';
import releases from './releases/releases.js';
import rollback from './releases/rollback.js';
import tokensCreate from './tokens/create.js';
import tokensList from './tokens/list.js';
import tokensRevoke from './tokens/revoke.js';
import { login, logout } from './client/login.js';

/**
 * Every command of Magrathea, on every surface, in the order `help` lists
 * them. Each says where it runs (the command line, `ssh magrathea`, the
 * HTTP API) and who may run it; src/dispatch runs them all the same way.
 * A new command: its own file under src/commands/<topic>/, one line here.
 */
export const COMMANDS: readonly Command[] = [
  // The manifest, before any gateway (the command line).
  validate,
  render,
  explain,
  // This machine's commands sent to a gateway (a laptop, a CI job).
  login,
  logout,
  // Apps and what they run.
  appsList,
  appsCreate,
  appsInfo,
  appsDestroy,
  configShow,
  configDiff,
  configSet,
  configUnset,
  deploy,
  deployRepo,
  releases,
  rollback,
  deploys,
  deploysFollow,
  logs,
  shell,
  instancesRemove,
  usage,
  // Each instance's database: what it is, a client, export and import, backups, copies, passwords, destroying one.
  dbInfo,
  dbShell,
  dbExport,
  dbImport,
  dbBackupsCapture,
  dbBackupsList,
  dbBackupsRestore,
  dbCopy,
  dbRotate,
  dbDestroy,
  // Users: who you are, your own tokens for the HTTP API.
  whoami,
  tokensCreate,
  tokensList,
  tokensRevoke,
  // The gateway itself.
  status,
  doctor,
  ispconfigCheck,
  audit,
  serve,
  worker,
  accountingRun,
  accountingWorker,
  accountingEdgeLog,
  preReceiveHook,
  postReceiveHook,
  labUp,
  labStatus,
  labDown,
  demo,
];
