// ESLint: TypeScript recommended rules plus the layering rule (STYLE "Layout shows the pipeline"):
// shared/ imports nothing of ours; collector/ never imports desktop/; the renderer never imports
// node:*, electron or collector/. A wrong import fails `npm run lint`, and so CI.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const layer = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'desktop/renderer/dist/**', 'desktop/dist/**', '.cache/**', 'coverage/**', 'test/screenshots/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  layer(['shared/**/*.{ts,tsx}'], [
    { group: ['**/collector/**', '**/desktop/**'], message: 'shared/ imports nothing from collector/ or desktop/ (DESIGN §1).' },
    { group: ['node:*'], message: 'shared/ runs in browsers too: no node:* imports; take what you need as a parameter.' },
  ]),
  // Tests of shared/ code run in Node and may use node:* to supply what shared/ takes as parameters.
  layer(['shared/**/*.test.ts'], [
    { group: ['**/collector/**', '**/desktop/**'], message: 'shared/ imports nothing from collector/ or desktop/ (DESIGN §1).' },
  ]),
  layer(['collector/**/*.{ts,tsx}'], [
    { group: ['**/desktop/**'], message: 'collector/ never imports desktop/ (DESIGN §1).' },
  ]),
  {
    files: ['desktop/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*'], message: 'The renderer runs in a browser sandbox: no node:* imports.' },
          { group: ['electron', 'electron/*'], message: 'The renderer talks to Electron only through the preload bridge (window.sluice).' },
          { group: ['**/collector/**'], message: 'The renderer talks to collectors only over the admin API.' },
          { group: ['**/desktop/main/**', '**/desktop/preload/**'], message: 'The renderer never imports main-process or preload code.' },
        ],
        paths: ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'zlib', 'worker_threads'].map((name) => ({ name, message: 'The renderer runs in a browser sandbox: no Node built-ins.' })),
      }],
    },
  },
);
