/** The few error classes Roster throws, each with a stable `code`. */

/** Base class: a failure Roster understands and can explain to a user without a stack trace. */
export class RosterError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line was wrong: an unknown flag, a missing argument. */
export class UsageError extends RosterError {
  constructor(message: string) {
    super('usage', message);
  }
}
