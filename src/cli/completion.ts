/**
 * Shell completion scripts generated from the command tree and flag tables (the same tables
 * that drive parsing and help), so completion never drifts from the real flags.
 * @module
 */
import type { Command } from "./command.ts";
import type { FlagTable } from "./flags.ts";

interface Node { path: string[]; subcommands: Array<{ name: string; short: string }>; flags: Array<{ long: string; short?: string; help: string; takesValue: boolean }> }

function walk(cmd: Command, globals: FlagTable, path: string[] = []): Node[] {
  const flags = Object.entries({ ...cmd.flags, ...globals, help: { type: "bool", short: "h", help: "help for " + cmd.name } } as FlagTable)
    .filter(([, f]) => !f.hidden && !f.deprecated)
    .map(([long, f]) => ({ long, short: f.short, help: f.help, takesValue: f.type !== "bool" && f.type !== "count" }));
  const subs = (cmd.subcommands ?? []).filter((s) => !s.hidden);
  const node: Node = { path, subcommands: subs.map((s) => ({ name: s.name, short: s.short })), flags };
  return [node, ...subs.flatMap((s) => walk(s, globals, [...path, s.name]))];
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashCompletion(root: Command, globals: FlagTable): string {
  const nodes = walk(root, globals);
  const cases = nodes.map((n) => {
    const words = [...n.subcommands.map((s) => s.name), ...n.flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])])];
    const valueFlags = n.flags.filter((f) => f.takesValue).flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
    return `    ${sq(n.path.join(" "))}) words=${sq(words.join(" "))}; valueflags=${sq(valueFlags.join(" "))} ;;`;
  });
  return `# bash completion for ${root.name}
# Load with: source <(${root.name} completion bash)
_${root.name}_completion() {
  local cur prev path="" words valueflags i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case "\${path:+$path }$w" in
${nodes.filter((n) => n.path.length).map((n) => `      ${sq(n.path.join(" "))}) path="${n.path.join(" ")}" ;;`).join("\n")}
    esac
  done
  case "$path" in
${cases.join("\n")}
    *) words="" valueflags="" ;;
  esac
  for w in $valueflags; do
    if [[ "$prev" == "$w" ]]; then COMPREPLY=($(compgen -f -- "$cur")); return 0; fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(for w in $words; do [[ $w != -* ]] && echo $w; done)" -- "$cur"))
    [[ \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -o default -F _${root.name}_completion ${root.name}
`;
}

export function zshCompletion(root: Command, globals: FlagTable): string {
  const nodes = walk(root, globals);
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/'/g, "'\\''").replace(/\[/g, "\\[").replace(/\]/g, "\\]").replace(/:/g, "\\:");
  const fns = nodes.map((n) => {
    const fname = ["_" + root.name, ...n.path].join("_").replace(/-/g, "_");
    const specs = n.flags.map((f) => {
      const val = f.takesValue ? ":value:_files" : "";
      return f.short
        ? `    '(-${f.short} --${f.long})'{-${f.short},--${f.long}}'[${esc(f.help)}]${val}'`
        : `    '--${f.long}[${esc(f.help)}]${val}'`;
    });
    if (n.subcommands.length) {
      const list = n.subcommands.map((s) => `      '${s.name}:${esc(s.short)}'`).join("\n");
      return `${fname}() {
  local -a cmds
  cmds=(
${list}
  )
  _arguments -C \\
${specs.map((s) => s + " \\").join("\n")}
    '1: :->cmd' '*:: :->args'
  case $state in
    cmd) _describe 'command' cmds ;;
    args) local fn="${fname}_\${words[1]//-/_}"; (( $+functions[$fn] )) && $fn ;;
  esac
}`;
    }
    return `${fname}() {
  _arguments \\
${specs.map((s) => s + " \\").join("\n")}
    '*:file:_files'
}`;
  });
  return `#compdef ${root.name}
# zsh completion for ${root.name}
# Load with: source <(${root.name} completion zsh)  or save as _${root.name} in your $fpath
${fns.join("\n\n")}

if [ "$funcstack[1]" = "_${root.name}" ]; then _${root.name} "$@"; else compdef _${root.name} ${root.name}; fi
`;
}

export function fishCompletion(root: Command, globals: FlagTable): string {
  const nodes = walk(root, globals);
  const name = root.name;
  const lines = [`# fish completion for ${name}`, `# Load with: ${name} completion fish | source`, `complete -c ${name} -f`];
  const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  for (const n of nodes) {
    const cond = n.path.length === 0
      ? `__fish_use_subcommand`
      : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c ${name} -n ${fq(cond)} -a ${s.name} -d ${fq(s.short)}`);
    for (const f of n.flags) {
      lines.push(`complete -c ${name} -n ${fq(cond)} -l ${f.long}${f.short ? ` -s ${f.short}` : ""}${f.takesValue ? " -r -F" : ""} -d ${fq(f.help)}`);
    }
  }
  return lines.join("\n") + "\n";
}
