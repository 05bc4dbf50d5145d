// Lint: typescript-eslint's strict type-checked rules over the TypeScript in src/,
// bin/ and test/. `npm run lint` runs it (with a cache); so does the lint tier of
// scripts/test.mjs (test/lint/), and therefore `npm test` and CI.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Generated code is never edited by hand; scripts/ and the C trees are not TypeScript.
  { ignores: ['dist/', 'build/', 'node_modules/', 'src/gen/', 'scripts/', 'bpf/', 'guest-netdev/', 'harness/', 'kmod/'] },
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
    // bin/ringctl.js and test/reporter.cjs: plain Node scripts, outside the TypeScript project.
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
