// shipit-deploy's standard deploy (deploy:fetch, update, publish, clean),
// as its README sets it up, for `npm run bench:deploy`, which passes the
// lab's hosts, keys and paths in the environment.
/* global require, module, process */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const deploy = require(process.env.BENCH_SHIPIT_DEPLOY);

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`shipitfile: ${name} is not set`);
  return value;
};

module.exports = (shipit) => {
  deploy(shipit);
  const extraSshOptions = {
    IdentitiesOnly: 'yes',
    UserKnownHostsFile: env('BENCH_KNOWN_HOSTS'),
    GlobalKnownHostsFile: '/dev/null',
    BatchMode: 'yes',
    CheckHostIP: 'no',
    LogLevel: 'ERROR',
  };
  shipit.initConfig({
    default: {
      deployTo: env('BENCH_DEPLOY_TO'),
      repositoryUrl: env('BENCH_REPO'),
      branch: 'master',
      ignores: ['.git'],
      keepReleases: Number(env('BENCH_KEEP_RELEASES')),
      shallowClone: true,
      key: env('BENCH_SSH_KEY'),
      strict: 'yes',
    },
    bench: {
      servers: env('BENCH_HOSTS').split(',').map((host) => ({ host, user: 'root', extraSshOptions })),
    },
  });
};
