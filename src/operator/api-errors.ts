/** Errors of the Kubernetes client (ApiException), read in one place. */

/** The HTTP status of an API error, if it has one. */
export function statusCodeOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? Number((error as { code: unknown }).code)
    : undefined;
}

/** An API error as one line: the status code and the server's message when there is one. */
export function describeApiError(error: unknown): string {
  const e = error as { body?: unknown; message?: string };
  let message = e.message ?? String(error);
  try {
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    if (body && typeof body === 'object' && 'message' in body) message = String(body.message);
  } catch {
    // not JSON: keep the error's own message
  }
  const code = statusCodeOf(error);
  return `${code === undefined ? '' : `HTTP ${code}: `}${message}`.replace(/\s+/g, ' ');
}
