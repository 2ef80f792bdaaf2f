/**
 * A Python with the OpenTelemetry SDK and its OTLP/HTTP exporter, for the otlp e2e test's Python
 * case: $SLUICE_OTEL_PYTHON when set; else a venv under .cache/otel-venv, made on first use
 * (`python3 -m venv` + `pip install` from PyPI, pinned below). Where that cannot be done — no
 * python3, no venv module, PyPI out of reach — the answer is a reason to skip, never a failure:
 * `npm test` passes on a machine without network, and says why the case did not run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Pinned so every machine runs the same exporter (the newest at the time of writing). */
export const OTEL_PYTHON_PACKAGES = ['opentelemetry-sdk==1.45.2', 'opentelemetry-exporter-otlp-proto-http==1.45.2'];
const VENV = join(import.meta.dirname, '../../.cache/otel-venv');
const PROBE = 'import opentelemetry.exporter.otlp.proto.http._log_exporter, opentelemetry.sdk._logs';

function has(python: string): boolean {
  return spawnSync(python, ['-c', PROBE], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

function tail(text: string | null | undefined): string {
  const lines = (text ?? '').trim().split('\n');
  return lines.slice(-2).join(' ').slice(0, 300);
}

/** The interpreter to run the exporter with, or why there is none. */
export function otelPython(): { python: string } | { skip: string } {
  const given = process.env.SLUICE_OTEL_PYTHON;
  if (given) return has(given) ? { python: given } : { skip: `SLUICE_OTEL_PYTHON=${given} cannot import the OpenTelemetry OTLP/HTTP log exporter` };
  const python = join(VENV, 'bin/python');
  if (existsSync(python) && has(python)) return { python };
  rmSync(VENV, { recursive: true, force: true });
  const venv = spawnSync('python3', ['-m', 'venv', VENV], { encoding: 'utf8', timeout: 120_000 });
  if (venv.status !== 0) return { skip: `cannot make a Python venv (python3 -m venv: ${venv.error?.message ?? tail(venv.stderr)})` };
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--retries', '1', '--timeout', '20', ...OTEL_PYTHON_PACKAGES], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (pip.status !== 0 || !has(python)) {
    rmSync(VENV, { recursive: true, force: true });
    return { skip: `pip could not install ${OTEL_PYTHON_PACKAGES.join(' ')} (${pip.error?.message ?? tail(pip.stderr)})` };
  }
  return { python };
}
