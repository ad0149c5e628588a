import base from './jest.config.js';

/**
 * `npm run test:unit`: the pure tests only, those beside their code
 * (src/**\/*.test.ts, scripts/**\/*.test.mjs). They need neither root, nor
 * the lab, nor Redis, nor the build: no globalSetup/globalTeardown here
 * (those of jest.config.js sweep and bring down test labs).
 */
const unit = { ...base, testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/scripts/**/*.test.mjs'] };
delete unit.globalSetup;
delete unit.globalTeardown;

export default unit;
