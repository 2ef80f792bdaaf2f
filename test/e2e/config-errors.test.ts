/**
 * Config mistakes as a user meets them: a real `sluice check` and `sluice start` process on a file
 * full of mistakes prints every one of them, in line order, with its line and path, in plain
 * words — no stack trace — and exits 2 (docs/configuration.md, "When the config is wrong").
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import { scaled, SLUICE, spawnTracked, tempDir } from '../helpers/process.ts';

const { sources } = builtinRegistries();

function sluice(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(process.execPath, [SLUICE, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  // A checkout rebuilds a stale bundle first and says so: not part of what the command prints.
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr: stderr.replace(/^sluice build: .*\n/gm, '') })));
}

const MISTAKES = `# every line below marked with a number is wrong
admin:
  listen: 127.0.0.1:99999        # 1: port beyond 65535 (used to crash with ERR_SOCKET_BAD_PORT)
  tokn: abcdefghijklmnopqrstu    # 2: misspelt key
channel:
  max_bytes: 64 megs             # 3: not a size
  retention:
    max_age: a week              # 4: not a duration
log:
  level: loud                    # 5: not an allowed value
sources:
  web:
    type: http
    listen: localhost            # 6: no port
  logs:
    type: sylsog                 # 7: misspelt type
sinks:
  out:
    type: stdout
    batch:
      max_events: 0              # 8: out of range
`;

const EXPECTED = [
  'line 3: admin.listen: expected host:port with port 1–65535, such as 127.0.0.1:9880 or [::1]:9880; got "127.0.0.1:99999"',
  'line 4: admin.tokn: unknown key "tokn"; did you mean "token"?',
  'line 6: channel.max_bytes: expected a size such as 64MiB, 512KiB or 1GiB; got "64 megs"',
  'line 8: channel.retention.max_age: expected a duration such as 30s, 5m or 7d, or null; got "a week"',
  'line 10: log.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent"; got "loud"',
  'line 14: sources.web.listen: expected host:port with port 1–65535, such as 127.0.0.1:9880 or [::1]:9880; got "localhost"',
  `line 16: sources.logs.type: unknown source type "sylsog"; did you mean "syslog"? one of: ${sources.names().join(', ')}`,
  'line 21: sinks.out.batch.max_events: expected a whole number from 1 to 100000; got 0',
];

describe('a config with mistakes', () => {
  for (const command of ['check', 'start']) {
    it(
      `sluice ${command} prints all of them in line order, no stack, exit 2`,
      async () => {
        const dir = tempDir();
        const file = join(dir, 'sluice.yaml');
        writeFileSync(file, MISTAKES);
        const r = await sluice([command, '--config', file], dir);
        expect(r.stderr).toBe(`${file}: ${EXPECTED.length} problems\n${EXPECTED.map((l) => `  ${l}\n`).join('')}`);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(r.stdout).toBe('');
        expect(r.code).toBe(2);
      },
      scaled(60_000),
    );
  }

  it('a file that is not there, or not YAML, is a config error too', async () => {
    const dir = tempDir();
    const missing = await sluice(['check', '--config', join(dir, 'nope.yaml')], dir);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read the config file: no such file \(ENOENT\)/);
    expect(missing.code).toBe(2);
    writeFileSync(join(dir, 'bad.yaml'), 'sources:\n  web: [unclosed\n');
    const bad = await sluice(['check', '--config', join(dir, 'bad.yaml')], dir);
    expect(bad.stderr).toMatch(/^ {2}line 3: column 1: not valid YAML: /m);
    expect(bad.code).toBe(2);
  });
});
