/**
 * `roster completion bash|zsh|fish`: shell completion of the commands, their subcommands and
 * their options. Everything is read from the commands' own help texts (the subcommands from
 * their `roster NAME SUB` usage lines, the options from the `--option`s they list), so the
 * completion cannot drift from what `roster COMMAND --help` says.
 */
import { UsageError } from '../core/errors.js';

/** One command as the completion knows it. */
export interface CompletedCommand {
  readonly name: string;
  /** One line, for shells that show descriptions (fish, zsh). */
  readonly summary: string;
  readonly help: string;
}

/** The shells a script is written for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Words {
  readonly name: string;
  readonly summary: string;
  readonly subcommands: readonly string[];
  readonly options: readonly string[];
}

/** The subcommands and options a command's help names. */
export function wordsOf(command: CompletedCommand): Words {
  const escaped = command.name.replace(/[-]/g, '\\-');
  const subcommands = new Set(
    [...command.help.matchAll(new RegExp(`roster ${escaped} ([a-z][a-z-]*)`, 'g'))].map(
      (m) => m[1] ?? '',
    ),
  );
  const options = new Set(
    [...command.help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z](?=[ ,]))/g)].map(
      (m) => m[1] ?? '',
    ),
  );
  options.add('--help');
  return {
    name: command.name,
    summary: command.summary,
    subcommands: [...subcommands].sort(),
    options: [...options].sort(),
  };
}

/** The completion script for `shell`. */
export function completionScript(shell: string, commands: readonly CompletedCommand[]): string {
  const words = commands.map(wordsOf);
  switch (shell) {
    case 'bash':
      return bashScript(words);
    case 'zsh':
      return zshScript(words);
    case 'fish':
      return fishScript(words);
    default:
      throw new UsageError(`completion is written for ${SHELLS.join(', ')}, not "${shell}"`);
  }
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function bashScript(words: readonly Words[]): string {
  const cases = words
    .map(
      (w) =>
        `    ${w.name}) subcommands=${quote(w.subcommands.join(' '))}; options=${quote(w.options.join(' '))} ;;`,
    )
    .join('\n');
  return `# roster completion for bash: source <(roster completion bash)
# or save it as /etc/bash_completion.d/roster (or ~/.local/share/bash-completion/completions/roster).
_roster() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  local commands=${quote(words.map((w) => w.name).join(' '))}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    return
  fi
  local subcommands='' options=''
  case \${COMP_WORDS[1]} in
${cases}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subcommands" ]; then
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _roster roster
`;
}

function zshScript(words: readonly Words[]): string {
  const described = words.map((w) => quote(`${w.name}:${w.summary.replace(/:/g, '\\:')}`));
  const cases = words
    .map(
      (w) =>
        `    ${w.name}) subcommands=(${w.subcommands.join(' ')}); options=(${w.options.join(' ')}) ;;`,
    )
    .join('\n');
  return `#compdef roster
# roster completion for zsh: source <(roster completion zsh) after compinit,
# or save it as _roster in a directory of $fpath.
_roster_commands=(
  ${described.join('\n  ')}
)
_roster() {
  if (( CURRENT == 2 )); then
    _describe 'roster command' _roster_commands
    return
  fi
  local -a subcommands options
  case $words[2] in
${cases}
  esac
  if [[ $words[CURRENT] == -* ]]; then
    compadd -- $options
  elif (( CURRENT == 3 && $#subcommands )); then
    compadd -- $subcommands
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_roster" ]; then
  _roster "$@"
else
  compdef _roster roster
fi
`;
}

function fishScript(words: readonly Words[]): string {
  const names = words.map((w) => w.name).join(' ');
  const lines = [
    '# roster completion for fish: roster completion fish > ~/.config/fish/completions/roster.fish',
    'complete -c roster -f',
    ...words.map(
      (w) =>
        `complete -c roster -n "not __fish_seen_subcommand_from ${names}" -a ${w.name} -d ${quote(w.summary)}`,
    ),
  ];
  for (const w of words) {
    const seen = `__fish_seen_subcommand_from ${w.name}`;
    if (w.subcommands.length > 0) {
      lines.push(
        `complete -c roster -n "${seen}; and not __fish_seen_subcommand_from ${w.subcommands.join(' ')}" -a ${quote(w.subcommands.join(' '))}`,
      );
    }
    for (const option of w.options) {
      const flag = option.startsWith('--') ? `-l ${option.slice(2)}` : `-s ${option.slice(1)}`;
      lines.push(`complete -c roster -n "${seen}" ${flag} -F`);
    }
  }
  return `${lines.join('\n')}\n`;
}
