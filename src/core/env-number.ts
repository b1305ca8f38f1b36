/** Reading numeric settings from an environment (given, not read from the process: pure). */

/**
 * The number `env[name]` holds, when it is set, finite and `accepted`; otherwise undefined (an
 * unset or unusable variable leaves the default in place).
 */
export function envNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  accepted: (value: number) => boolean,
): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && accepted(value) ? value : undefined;
}
