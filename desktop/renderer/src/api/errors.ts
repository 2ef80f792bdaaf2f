/**
 * What the UI shows when something fails: what was being done, what the collector (or the
 * network) said, and what the user can do about it.
 */

export class AdminApiError extends Error {
  constructor(
    /** What the UI was doing: `Loading topics from http://127.0.0.1:9410`. */
    readonly what: string,
    message: string,
    /** What to do about it. */
    readonly hint: string,
    /** HTTP status, or null when no answer came back. */
    readonly status: number | null,
    /** The API's stable error code (`SLUICE_TOPIC_NOT_FOUND`), when it sent one. */
    readonly code: string | null,
    readonly problems: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/**
 * A mistake in what the user typed or picked (not a fault): shown inline beside the input, with
 * what to type instead — never the "something went wrong" page.
 */
export class InputProblem extends Error {
  constructor(message: string, readonly hint = 'Correct it and try again.') {
    super(message);
    this.name = 'InputProblem';
  }
}

export function hintFor(status: number | null, code: string | null, baseUrl: string, pageOrigin: string | null): string {
  if (status === null) {
    const cors = pageOrigin && !sameOrigin(baseUrl, pageOrigin)
      ? ` If it is running, it may refuse this page's origin: add "${pageOrigin}" to admin.cors_origins in its config.`
      : '';
    return `Check that the collector is running (sluice start) and that ${baseUrl} is its admin address.${cors}`;
  }
  if (status === 401) return 'This collector requires a token: edit the connection and paste its admin.token.';
  if (status === 403) return 'The collector does not allow this (see its admin config, e.g. admin.export).';
  if (code === 'SLUICE_NOT_FOUND' || code === 'SLUICE_TOPIC_NOT_FOUND' || code === 'SLUICE_CURSOR_NOT_FOUND') {
    return 'It may have been removed or renamed: reload the list and pick again.';
  }
  if (status === 404) return 'This collector does not offer this API: is it an older version of Sluice?';
  if (status === 413) return 'The request is too large: narrow it down.';
  if (code === 'SLUICE_SCAN_LIMIT') return 'The search scanned as much as one request may: narrow the range or the filter, or continue from where it stopped.';
  if (status === 503) return 'The collector is busy or shutting down: try again in a moment.';
  if (status >= 400 && status < 500) return 'Check the values you entered.';
  return 'The collector failed on this request: its log (stderr) says why.';
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export function describeError(error: unknown): { title: string; message: string; hint: string } {
  if (error instanceof AdminApiError) {
    const problems = error.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    return { title: `${error.what} failed`, message: problems ? `${error.message}\n${problems}` : error.message, hint: error.hint };
  }
  if (error instanceof InputProblem) return { title: 'Check what you entered', message: error.message, hint: error.hint };
  const message = error instanceof Error ? error.message : String(error);
  return { title: 'Something went wrong', message, hint: 'Reload the page; if it happens again, report it with the steps that led here.' };
}
