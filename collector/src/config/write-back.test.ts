import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chainYaml, type DefaultsOf } from './write-back.ts';

// The regex_filter and static specs' defaults, as the registry gives them.
const defaultsOf: DefaultsOf = (type) =>
  type === 'regex_filter' ? { exclude: false, ignore_case: false, on_error: 'drop' } : type === 'static' ? { preserve_existing: true, on_error: 'drop' } : { on_error: 'drop' };

const FILE = `# The edge of the plant floor.
sources:
  web:   # HTTP from the line controllers
    type: http
    listen: 127.0.0.1:9880
    interceptors:
      - { type: host }          # which box
      - type: static            # where
        header: env
        value: dev
      - {type: regex_filter, pattern: ERROR}
    topics: [ a,  b ]
sinks:
  out: { type: stdout, topics: ['*'] }
`;

describe('writing a chain back into the YAML file', () => {
  it('changes nothing when the chain is the same, even when the UI sends every default', () => {
    const same = [{ type: 'host' }, { type: 'static', header: 'env', value: 'dev', preserve_existing: true }, { type: 'regex_filter', pattern: 'ERROR', exclude: false, ignore_case: false, on_error: 'drop' }];
    expect(chainYaml(FILE, 'web', same, defaultsOf)).toBe(FILE);
  });

  it('rewrites only the changed step, in its own style, and keeps everything else byte for byte', () => {
    const chain = [{ type: 'host' }, { type: 'static', header: 'env', value: 'prod' }, { type: 'regex_filter', pattern: 'WARN|ERROR', exclude: false, ignore_case: true }];
    const out = chainYaml(FILE, 'web', chain, defaultsOf);
    expect(out).toBe(FILE.replace('        value: dev', '        value: prod').replace('{type: regex_filter, pattern: ERROR}', '{type: regex_filter, pattern: WARN|ERROR, ignore_case: true}'));
    expect(parse(out).sources.web.interceptors).toEqual([{ type: 'host' }, { type: 'static', header: 'env', value: 'prod' }, { type: 'regex_filter', pattern: 'WARN|ERROR', ignore_case: true }]);
  });

  it('removes steps by their lines and adds steps in the style of the one before', () => {
    const removed = chainYaml(FILE, 'web', [{ type: 'host' }], defaultsOf);
    expect(removed).toBe(FILE.replace(/ {6}- type: static[\s\S]*pattern: ERROR}\n/, ''));
    const added = chainYaml(FILE, 'web', [{ type: 'host' }, { type: 'static', header: 'env', value: 'dev' }, { type: 'regex_filter', pattern: 'ERROR' }, { type: 'uuid', header: 'id' }], defaultsOf);
    expect(added).toBe(FILE.replace('pattern: ERROR}\n', 'pattern: ERROR}\n      - {type: uuid, header: id}\n'));
    const block = `sources:\n  web:\n    type: http\n    interceptors:\n      - type: host\n    # after the chain\n`;
    const addedBlock = chainYaml(block, 'web', [{ type: 'host' }, { type: 'static', header: 'env', value: 'dev' }], defaultsOf);
    expect(addedBlock).toBe(`sources:\n  web:\n    type: http\n    interceptors:\n      - type: host\n      - type: static\n        header: env\n        value: dev\n    # after the chain\n`);
    expect(parse(addedBlock).sources.web.interceptors).toEqual([{ type: 'host' }, { type: 'static', header: 'env', value: 'dev' }]);
  });

  it('adds and removes settings of a block step on their own lines', () => {
    const out = chainYaml(FILE, 'web', [{ type: 'host' }, { type: 'static', header: 'env', preserve_existing: false }, { type: 'regex_filter', pattern: 'ERROR' }], defaultsOf);
    expect(out).toBe(FILE.replace('        value: dev\n', '        preserve_existing: false\n'));
  });

  it('rewrites a step whole where another type takes its place (a file without a final newline too)', () => {
    const text = 'sources:\n  mem:\n    type: memory # the source\n    interceptors:\n      - type: static # tag\n        header: stage\n        value: one';
    const out = chainYaml(text, 'mem', [{ type: 'regex_filter', pattern: 'health', exclude: true }, { type: 'static', header: 'stage', value: 'two' }], defaultsOf);
    expect(out).toBe('sources:\n  mem:\n    type: memory # the source\n    interceptors:\n      - type: regex_filter\n        pattern: health\n        exclude: true\n      - type: static\n        header: stage\n        value: two\n');
  });

  it('creates the list where there was none and deletes it when the chain is emptied, keeping comments', () => {
    const none = `sources:\n  web: # the web\n    type: http\n`;
    const created = chainYaml(none, 'web', [{ type: 'host', on_error: 'drop' }], defaultsOf);
    expect(created).toContain('# the web');
    expect(parse(created).sources.web.interceptors).toEqual([{ type: 'host' }]);
    const emptied = chainYaml(FILE, 'web', [], defaultsOf);
    expect(parse(emptied).sources.web.interceptors).toBeUndefined();
    expect(emptied).toContain('# HTTP from the line controllers');
  });

  it('refuses a source the file does not have', () => {
    expect(() => chainYaml(FILE, 'nope', [], defaultsOf, 'edge.yaml')).toThrow('edge.yaml: no sources.nope to write the chain into');
  });
});
