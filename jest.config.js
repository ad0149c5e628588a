/** Jest in ESM mode: swc strips types, `npm run typecheck` checks them. */
export default {
  testEnvironment: 'node',
  // Jest 30 soft-deletes the globals a suite set, and a worker that then runs another suite can recurse in
  // its setter until the stack overflows (seen as "Maximum call stack size exceeded" failing a whole suite).
  testEnvironmentOptions: { globalsCleanup: 'off' },
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Pure tests beside their code (also run alone by `npm run test:unit`: jest.unit.config.js), the others under test/.
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/scripts/**/*.test.mjs', '<rootDir>/test/**/*.test.ts'],
  // test/image builds the gateway's container image (minutes): `npm run test:image` only (jest.image.config.js).
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/test/image/'],
  testTimeout: 60_000,
  // Two suites at a time, also on a 2-core machine (jest would run one): the lab suites spend much of their
  // time waiting on SSH round trips and daemons, and they are written to share the lab (test/helpers/lab.ts).
  maxWorkers: 2,
  // The lab shared by the suites that use it (test/helpers/lab.ts): named here, brought down at the end even on failure.
  globalSetup: '<rootDir>/test/helpers/lab-global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/lab-global-teardown.ts',
};
