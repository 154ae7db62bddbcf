// The client's errors: lainlet answered with an error, or lainlet could not be reached.

/** lainlet answered with an error status (or refused a watch); `message` is lainlet's own text. */
export class LainletError extends Error {
  override readonly name = 'LainletError';
  constructor(
    /** The HTTP status, e.g. 400 for a bad parameter or failed auth, 500 when a view can't be made. */
    readonly status: number,
    message: string,
    /** The request path and query. */
    readonly path: string,
  ) {
    super(message);
  }
}

/** lainlet could not be reached or did not answer in time (connection refused, reset, timeout). */
export class LainletConnectionError extends Error {
  override readonly name = 'LainletConnectionError';
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The answer was not the JSON the route promises. */
export class LainletProtocolError extends Error {
  override readonly name = 'LainletProtocolError';
}
