/** The version of this release, as `roster version` prints it. */
export const ROSTER_VERSION = '0.1.0';
