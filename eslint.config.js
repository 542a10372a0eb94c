// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * DESIGN §1 / STYLE §1: only src/transport/ touches sockets. Everything else reaches the
 * network through the transport shapes, so cores stay sans-I/O and testable in memory.
 */
const SOCKET_MODULES = [
  'net',
  'node:net',
  'tls',
  'node:tls',
  'dgram',
  'node:dgram',
  'http',
  'node:http',
  'https',
  'node:https',
  'http2',
  'node:http2',
];
const NATIVE_BINDINGS = [
  '@matrixai/quic',
  '@matrixai/quic/*',
  'node-datachannel',
  'node-datachannel/*',
];

const socketRestriction = {
  paths: SOCKET_MODULES.map((name) => ({
    name,
    message: 'Only src/transport/ may import socket modules (DESIGN §1). Use ghostnet/transport.',
  })),
  patterns: [
    {
      group: NATIVE_BINDINGS,
      message: 'Only src/transport/ may import native network bindings (DESIGN §1).',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-typecheck/**', 'node_modules/**', 'coverage/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        Request: 'readonly',
        Response: 'readonly',
        Headers: 'readonly',
        ReadableStream: 'readonly',
        structuredClone: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name="Error"]',
          message:
            'Use a coded GhostnetError subclass (STYLE §5), not a bare Error, in library code.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/transport/**'],
    rules: {
      'no-restricted-imports': ['error', socketRestriction],
    },
  },
  {
    // Tests, scripts and benchmarks may use bare errors and talk to peers directly.
    files: ['test/**', 'bench/**', 'scripts/**', 'bin/**', '*.config.*'],
    rules: {
      'no-restricted-syntax': 'off',
    },
  },
);
