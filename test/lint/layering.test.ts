/** The layering rule fails on each forbidden import, and passes the allowed ones. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function importErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layering rule', () => {
  it.each([
    ['shared/src/x.ts', "import { Channel } from '../../collector/src/channel/channel.ts';\nexport const c = Channel;\n", /shared\/ imports nothing/],
    ['shared/src/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", /no node:\* imports/],
    ['shared/src/x.ts', "import { x } from '../../desktop/renderer/src/x.ts';\nexport const y = x;\n", /shared\/ imports nothing/],
    ['collector/src/x.ts', "import { x } from '../../desktop/renderer/src/x.ts';\nexport const y = x;\n", /collector\/ never imports desktop/],
    ['desktop/renderer/src/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", /browser sandbox/],
    ['desktop/renderer/src/x.ts', "import { ipcRenderer } from 'electron';\nexport const r = ipcRenderer;\n", /preload bridge/],
    ['desktop/renderer/src/x.ts', "import { Channel } from '../../../collector/src/channel/channel.ts';\nexport const c = Channel;\n", /only over the admin API/],
    ['desktop/renderer/src/x.ts', "import fs from 'fs';\nexport const f = fs;\n", /no Node built-ins/],
  ])('%s: refuses %s', async (file, code, message) => {
    const errors = await importErrors(file, code);
    expect(errors.join('\n')).toMatch(message);
  });

  it('allows the imports that point the right way', async () => {
    expect(await importErrors('collector/src/x.ts', "import { utf8 } from '../../shared/src/event.ts';\nimport { readFileSync } from 'node:fs';\nexport const a = [utf8, readFileSync];\n")).toEqual([]);
    expect(await importErrors('desktop/renderer/src/x.ts', "import { utf8 } from '../../../shared/src/event.ts';\nexport const a = utf8;\n")).toEqual([]);
    expect(await importErrors('desktop/main/x.ts', "import { app } from 'electron';\nimport { readFileSync } from 'node:fs';\nexport const a = [app, readFileSync];\n")).toEqual([]);
  });
});
