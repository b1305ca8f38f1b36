/** Bounds on input that keep hostile files from exhausting memory, stack or time. */
export interface InputLimits {
  /** Largest file read, in bytes. */
  readonly maxFileBytes: number;
  /** Most YAML documents in one file. */
  readonly maxDocumentsPerFile: number;
  /** Deepest nesting of flow collections (`[`, `{`) in a file. */
  readonly maxFlowDepth: number;
  /** Most block indicators (`-`, `?`, `:`) on one line, i.e. nesting opened by one line. */
  readonly maxIndicatorsPerLine: number;
  /** Widest indentation, in columns. */
  readonly maxIndent: number;
}

/** Limits far above any honest manifest and far below what hurts. */
export const DEFAULT_LIMITS: InputLimits = {
  maxFileBytes: 8 * 1024 * 1024,
  maxDocumentsPerFile: 50_000,
  maxFlowDepth: 32,
  maxIndicatorsPerLine: 32,
  maxIndent: 256,
};
