// Lint: typescript-eslint's strict type-checked rules over the TypeScript in src/ and
// test/; ESLint's recommended rules (and typescript-eslint's strict ones that need no
// types) over the project's plain JavaScript: scripts/**/*.mjs, bin/ringctl.js,
// test/reporter.cjs and this file. `npm run lint` runs it (with a cache); so does the
// lint tier of scripts/test.mjs (test/lint/), and therefore `npm test` and CI.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

// Node's own globals, which the JavaScript uses without importing (the `globals`
// package is not a dependency; these are the ones Node adds to the language's).
const NODE_GLOBALS = Object.fromEntries(
  [
    'AbortController', 'AbortSignal', 'Buffer', 'TextDecoder', 'TextEncoder', 'URL', 'URLSearchParams',
    'clearImmediate', 'clearInterval', 'clearTimeout', 'console', 'fetch', 'performance', 'process',
    'queueMicrotask', 'setImmediate', 'setInterval', 'setTimeout', 'structuredClone',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  // Generated code is never edited by hand; the C trees hold no JavaScript.
  { ignores: ['dist/', 'build/', 'node_modules/', 'src/gen/', 'bpf/', 'guest-netdev/', 'harness/', 'kmod/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Numbers and booleans in messages are everyday text here; objects, nullish and any are still refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(x) => log(x)` for a void callback is the house idiom (handlers, loggers); it hides no value.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // A test asserts what it looks up; the `!` after such a lookup is part of the assertion.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Mocha hooks assign what `let x: T` declares, and after() must still cope with a before() that
      // failed; node:assert's narrowing also makes a later `?.` look needless.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Callbacks handed to APIs that await them (it(), eventually()) may be async without awaiting.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Plain Node scripts (the zx ones import what they use from 'zx'), outside the
    // TypeScript project: no type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: NODE_GLOBALS },
  },
  {
    // test/reporter.cjs: mocha loads reporters with require().
    files: ['**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
