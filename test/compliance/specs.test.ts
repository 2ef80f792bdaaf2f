/**
 * The spec every registered source, sink and interceptor exports (STYLE "Components are specs"):
 * documented (a section in the generated reference, a description for every key), with examples
 * that validate as a user would write them, and config mistakes reported by path.
 */
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../shared/src/spec.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import { generateReference } from '../../collector/src/config/docs.ts';
import { validateInterceptors, validateSink, validateSource } from '../../collector/src/config/load.ts';
import { interceptors } from '../../collector/src/interceptors/index.ts';

const registries = builtinRegistries();
const reference = generateReference(registries);

const families = [
  {
    kind: 'source',
    specs: registries.sources.all(),
    page: reference['sources.md'],
    validate: (config: Record<string, unknown>) => {
      const problems: ConfigProblem[] = [];
      validateSource(registries, 'c', config, problems);
      return problems;
    },
    path: 'sources.c',
  },
  {
    kind: 'sink',
    specs: registries.sinks.all(),
    page: reference['sinks.md'],
    validate: (config: Record<string, unknown>) => {
      const problems: ConfigProblem[] = [];
      validateSink(registries, 'c', config, 'sinks.c', problems);
      return problems;
    },
    path: 'sinks.c',
  },
  {
    kind: 'interceptor',
    specs: interceptors.all(),
    page: reference['interceptors.md'],
    validate: (config: Record<string, unknown>) => validateInterceptors([config as { type: string }], 'sources.s.interceptors'),
    path: 'sources.s.interceptors[0]',
  },
] as const;

describe('component specs (STYLE "Components are specs")', () => {
  for (const family of families) {
    for (const spec of family.specs) {
      describe(`${family.kind} ${spec.name}`, () => {
        it('is documented: a section of the generated reference, a description for every key', () => {
          expect(family.page).toContain(`\n## ${spec.name}\n`);
          const undocumented: string[] = [];
          const walk = (schema: TSchema, prefix: string) => {
            for (const [key, prop] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
              if (!prop.description) undocumented.push(`${prefix}${key}`);
              if (prop.type === 'object' && prop.properties) walk(prop, `${prefix}${key}.`);
            }
          };
          walk(spec.config, '');
          expect(undocumented).toEqual([]);
        });

        it('has examples that validate as written in a config', () => {
          expect(spec.examples.length).toBeGreaterThan(0);
          for (const example of spec.examples) expect(family.validate({ type: spec.name, ...example.config }), example.title).toEqual([]);
        });

        it('reports config mistakes by path: an unknown key, a missing required key', () => {
          const [example] = spec.examples;
          const unknown = family.validate({ type: spec.name, ...example.config, no_such_key: 1 });
          expect(unknown).toContainEqual({ path: `${family.path}.no_such_key`, message: expect.stringMatching(/^unknown key "no_such_key"/) });
          const props = (spec.config.properties ?? {}) as Record<string, TSchema>;
          // Required and without a default: a config must say it.
          for (const key of ((spec.config.required ?? []) as string[]).filter((k) => props[k]?.default === undefined)) {
            const { [key]: _omitted, ...rest } = example.config;
            const missing = family.validate({ type: spec.name, ...rest });
            expect(missing, `without ${key}`).toContainEqual({ path: `${family.path}.${key}`, message: 'missing (required)' });
          }
        });
      });
    }
  }
});
