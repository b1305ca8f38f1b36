/** `roster completion bash|zsh|fish`: prints the shell completion script. */
import { UsageError } from '../../core/errors.js';
import { completionScript, SHELLS, type CompletedCommand } from '../../command/completion.js';
import type { CliIo } from '../../command/io.js';

/** Help text of the command. */
export const COMPLETION_HELP = `Usage: roster completion bash|zsh|fish

Prints a completion script for the shell: commands, subcommands and options.

  bash   source <(roster completion bash)           (or save it in bash-completion's directory)
  zsh    source <(roster completion zsh)            (after compinit; or save as _roster in $fpath)
  fish   roster completion fish > ~/.config/fish/completions/roster.fish
`;

/** Runs the command with the commands to complete; returns the exit code. */
export async function completionCommand(
  args: string[],
  io: CliIo,
  commands: readonly CompletedCommand[],
): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(COMPLETION_HELP);
    return 0;
  }
  if (args.length !== 1) {
    throw new UsageError(`completion takes one shell: ${SHELLS.join(', ')}`);
  }
  io.stdout.write(completionScript(args[0] ?? '', commands));
  return 0;
}
