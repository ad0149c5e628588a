import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'examples/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Refusing control characters in user input is the point of several validators.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'child_process', message: 'spawn through src/adapters/exec.ts' },
          { name: 'node:child_process', message: 'spawn through src/adapters/exec.ts' },
          { name: 'execa', message: 'spawn through src/adapters/exec.ts' },
          { name: 'ioredis', message: 'only src/state talks to Redis' },
        ],
      }],
    },
  },
  {
    // The only code that talks to Redis (BullMQ gets its connection from here), and its tests.
    files: ['src/state/**/*.ts', 'test/state/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'child_process', message: 'spawn through src/adapters/exec.ts' },
          { name: 'node:child_process', message: 'spawn through src/adapters/exec.ts' },
          { name: 'execa', message: 'spawn through src/adapters/exec.ts' },
        ],
      }],
    },
  },
  {
    // The dashboard's ES modules run in the browser.
    files: ['src/gateway/http/dashboard/assets/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', Node: 'readonly', TextDecoderStream: 'readonly', EventSource: 'readonly' },
    },
  },
  {
    // The one place that spawns processes.
    files: ['src/adapters/exec.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // src/core is pure: data in, data out.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['fs', 'node:fs', 'fs/*', 'node:fs/*', 'net', 'node:net', 'http', 'node:http', 'https', 'node:https',
            'child_process', 'node:child_process', 'execa', 'ioredis', 'bullmq', 'ssh2', 'os', 'node:os', 'dgram', 'node:dgram'],
          message: 'src/core is pure: no file system, network, processes or Redis' },
          { group: ['../adapters/*', '../../adapters/*', '../config/load*', '../../config/load*'], message: 'src/core does not import adapters' },
        ],
      }],
    },
  },
);
