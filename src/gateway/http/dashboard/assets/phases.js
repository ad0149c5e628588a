// The phases of a deploy in the order they come, as src/core/deploy-event.ts lists them (DEPLOY_PHASES; a unit test holds the two together).
export const PHASES = ['queue', 'source', 'release', 'build', 'wait', 'connect', 'send', 'database', 'prepare', 'check', 'hook', 'switch', 'activate', 'verify', 'cleanup', 'rollback', 'purge', 'result'];
