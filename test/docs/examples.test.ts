/**
 * The examples in the README and docs/ cannot drift from the product:
 * - every ```yaml block is a config (or, starting with `- type:`, an interceptor chain) that the
 *   real loader accepts; a block meant as a fragment says so (```yaml fragment) and is skipped;
 * - every `sluice …` command line in a shell block parses with the real command line (the command
 *   exists, its options and arguments are right), every `npm run X` names a script of package.json,
 *   and every `curl` to the admin API (port 9410) asks for a route and method the API has.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { commands } from '../../collector/src/cli/commands.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import { ConfigError, loadConfigText } from '../../collector/src/config/load.ts';
import { REPO } from '../helpers/process.ts';

interface Block {
  file: string;
  line: number;
  lang: string;
  info: string;
  body: string;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? markdownFiles(join(dir, d.name)) : d.name.endsWith('.md') ? [join(dir, d.name)] : []));
}

function blocks(): Block[] {
  const out: Block[] = [];
  for (const path of [join(REPO, 'README.md'), ...markdownFiles(join(REPO, 'docs'))]) {
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/^```([a-z]+)([^\n]*)\n([\s\S]*?)^```/gm)) {
      out.push({ file: relative(REPO, path), line: text.slice(0, m.index).split('\n').length, lang: m[1], info: m[2].trim(), body: m[3] });
    }
  }
  return out;
}

const all = blocks();
const yamlBlocks = all.filter((b) => (b.lang === 'yaml' || b.lang === 'yml') && b.info !== 'fragment');
const shellBlocks = all.filter((b) => ['sh', 'bash', 'shell', 'console'].includes(b.lang));

/** A chain example becomes the interceptors of an HTTP source. */
function asConfig(b: Block): string {
  if (!/^\s*- /.test(b.body)) return b.body;
  const chain = b.body.split('\n').map((l) => `      ${l}`).join('\n');
  return `sources:\n  web:\n    type: http\n    listen: 127.0.0.1:9880\n    interceptors:\n${chain}\n`;
}

describe('docs: YAML examples', () => {
  it('there are examples to check', () => {
    expect(yamlBlocks.length).toBeGreaterThan(40);
  });

  it.each(yamlBlocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s is a config the loader accepts', async (_where, b) => {
    try {
      await loadConfigText(asConfig(b), null, { preflight: false, registries: builtinRegistries() });
    } catch (error) {
      if (error instanceof ConfigError) throw new Error(`${b.file}:${b.line}: ${error.message}`);
      throw error;
    }
  });
});

/** Shell words of one command line: quotes, escapes; stops at a comment. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let any = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      any = true;
    } else if (c === '#' && !any && cur === '') {
      break;
    } else if (/\s/.test(c)) {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any || cur) out.push(cur);
  return out;
}

/** The simple commands of a block: continuation lines joined, split at |, &&, ||, ;. */
function commandLines(b: Block): { line: number; argv: string[] }[] {
  const out: { line: number; argv: string[] }[] = [];
  const lines = b.body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i];
    while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i];
    const argv = words(text.replace(/^\s*\$\s+/, ''));
    let cmd: string[] = [];
    for (const w of [...argv, '&&']) {
      if (['|', '&&', '||', ';'].includes(w) || /^[<>]/.test(w) || /^\d?>/.test(w)) {
        if (cmd.length) out.push({ line: b.line + 1 + start, argv: cmd });
        cmd = [];
        if (/^[<>]|^\d?>/.test(w) && w.length === 1) cmd = ['__redirect__'];
        continue;
      }
      if (cmd[0] === '__redirect__') {
        cmd = [];
        continue;
      }
      cmd.push(w);
    }
  }
  return out;
}

function sluiceArgs(argv: string[]): string[] | null {
  if (argv[0] === 'sluice') return argv.slice(1);
  if (argv[0] === 'npx' && argv[1] === 'sluice') return argv.slice(2);
  if (argv[0] === 'node' && /bin\/sluice(\.js)?$/.test(argv[1] ?? '')) return argv.slice(2);
  if (/bin\/sluice$/.test(argv[0] ?? '')) return argv.slice(1);
  return null;
}

/** The real `sluice` command line, with every action replaced by a no-op. */
function parser(): Command {
  const program = new Command().name('sluice').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  for (const register of commands) register(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined }).action(() => undefined);
  return program;
}

const openapi = JSON.parse(readFileSync(join(REPO, 'docs/api/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const routes = Object.entries(openapi.paths).map(([path, methods]) => ({
  pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/?]+')}$`),
  methods: Object.keys(methods).map((m) => m.toUpperCase()),
}));
const scripts = Object.keys((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

function curlProblem(argv: string[]): string | null {
  let method: string | null = null;
  let data = false;
  let url: string | null = null;
  let get = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-X' || a === '--request') method = argv[++i];
    else if (/^(-d|--data|--data-binary|--data-raw|--data-urlencode|--json)$/.test(a)) {
      data = true;
      i++;
    } else if (a === '-G' || a === '--get') get = true;
    else if (/^(-H|--header|-o|--output|-u|--user|-w|--write-out|--cacert|-T)$/.test(a)) i++;
    else if (!a.startsWith('-') && url === null) url = a;
  }
  if (!url) return 'no URL';
  const u = new URL(url.startsWith('http') ? url : `http://${url}`);
  if (u.port !== '9410') return null; // a source (9880 …) or another peer: not the admin API
  const m = method ?? (data && !get ? 'POST' : 'GET');
  const route = routes.find((r) => r.pattern.test(u.pathname));
  if (!route) return `${m} ${u.pathname}: no such admin API route`;
  if (!route.methods.includes(m)) return `${m} ${u.pathname}: the route answers ${route.methods.join(', ')}`;
  return null;
}

describe('docs: shell examples', () => {
  const lines = shellBlocks.flatMap((b) => commandLines(b).map((c) => ({ where: `${b.file}:${c.line}`, argv: c.argv })));

  it('there are commands to check', () => {
    expect(lines.filter((l) => sluiceArgs(l.argv)).length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.argv[0] === 'curl').length).toBeGreaterThan(10);
  });

  it('every sluice command parses with the real command line', async () => {
    const problems: string[] = [];
    for (const { where, argv } of lines) {
      const args = sluiceArgs(argv);
      if (!args || args.length === 0 || args.includes('--help') || args.includes('--version')) continue;
      try {
        await parser().parseAsync(args, { from: 'user' });
      } catch (error) {
        problems.push(`${where}: sluice ${args.join(' ')}: ${error instanceof CommanderError ? error.message : String(error)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every npm run names a script, every curl to the admin API a route it has', () => {
    const problems: string[] = [];
    for (const { where, argv } of lines) {
      if (argv[0] === 'npm' && argv[1] === 'run' && !scripts.includes(argv[2])) problems.push(`${where}: npm run ${argv[2]}: no such script`);
      if (argv[0] === 'npm' && ['start', 'test'].includes(argv[1]) && !scripts.includes(argv[1])) problems.push(`${where}: npm ${argv[1]}: no such script`);
      if (argv[0] === 'curl') {
        const problem = curlProblem(argv);
        if (problem) problems.push(`${where}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
