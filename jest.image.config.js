import base from './jest.config.js';

/**
 * `npm run test:image`: the gateway's container image (Dockerfile) built
 * with podman and started (test/image). Left out of `npm test`, whose time
 * it would lengthen by minutes; it needs root, podman and debootstrap, and
 * neither the lab nor the build: no globalSetup/globalTeardown here.
 */
const image = { ...base, testMatch: ['<rootDir>/test/image/**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/', '/dist/'], maxWorkers: 1 };
delete image.globalSetup;
delete image.globalTeardown;

export default image;
