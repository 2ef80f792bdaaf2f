/**
 * The Python exporter helper never fails a run: an interpreter that lacks the exporter is a skip
 * with the reason (the venv path, which needs PyPI, is exercised by test/e2e/otlp.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { otelPython } from './python-otel.ts';

const saved = process.env.SLUICE_OTEL_PYTHON;
afterEach(() => {
  if (saved === undefined) delete process.env.SLUICE_OTEL_PYTHON;
  else process.env.SLUICE_OTEL_PYTHON = saved;
});

describe('otelPython', () => {
  it('an interpreter without the exporter, or none at all, is a skip that says why', () => {
    process.env.SLUICE_OTEL_PYTHON = '/nonexistent/python3';
    expect(otelPython()).toEqual({ skip: 'SLUICE_OTEL_PYTHON=/nonexistent/python3 cannot import the OpenTelemetry OTLP/HTTP log exporter' });
    process.env.SLUICE_OTEL_PYTHON = process.execPath; // node, not python
    expect(otelPython()).toMatchObject({ skip: expect.stringMatching(/cannot import/) });
  });
});
