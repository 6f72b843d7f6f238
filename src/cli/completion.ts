/**
 * Shell completion as cobra does it: the scripts (`kit completion bash|zsh|fish|powershell`) are
 * thin wrappers that ask the binary itself, `kit __complete <words…> <word being typed>` (or
 * `__completeNoDesc`), and print its answer: one candidate per line (`value<TAB>description`),
 * then `:<directive>`. The answers come from the same command tree and flag tables that drive
 * parsing and help: sub-commands, flags, flag values (`--compression`, `--format`, `--progress`,
 * …) and the ModelKits in local storage (read from the storage index files only: fast, offline,
 * nothing written).
 * @module
 */
import { displayRef } from "../oci/reference.ts";
import { readLocalReferences } from "../store/local.ts";
import { defaultHomeSources, homePaths, resolveHome } from "../util/paths.ts";
import { loadAll, type Command } from "./command.ts";
import type { FlagSpec, FlagTable } from "./flags.ts";

/** Cobra's `ShellCompDirective` bits. */
export const Directive = { error: 1, noSpace: 2, noFileComp: 4, filterFileExt: 8, filterDirs: 16, keepOrder: 32 } as const;

export interface Completion {
  /** `value` or `value\tdescription`. */
  candidates: string[];
  directive: number;
}

/** Where completion finds the kit home (the `--config` value, `$KITOPS_HOME`, the platform default). */
export interface CompletionEnv {
  env: Record<string, string | undefined>;
  cwd: string;
  platform: NodeJS.Platform;
}

const helpFlag: FlagSpec = { type: "bool", short: "h", help: "help for this command" };
const takesValue = (f: FlagSpec | undefined) => f !== undefined && f.type !== "bool" && f.type !== "count";
const repeatable = (f: FlagSpec) => f.type === "stringArray" || f.type === "stringSlice" || f.type === "count";

/**
 * Cobra's completion for `words` (the words after the program name, the last one being the
 * word under the cursor, possibly empty).
 */
export async function completeWords(root: Command, globals: FlagTable, words: string[], where: CompletionEnv): Promise<Completion> {
  root = await loadAll(root); // the whole tree: flags and sub-commands of every command
  const toComplete = words.length ? words[words.length - 1]! : "";
  const before = words.slice(0, -1);
  let cmd = root;
  const positional: string[] = [];
  const seen = new Set<string>();
  let config = "";
  /** The flag whose value is being typed (the previous word was `--flag` or `-f`). */
  let valueOf: FlagSpec | undefined;
  const tableOf = (c: Command): FlagTable => ({ ...c.flags, help: { ...helpFlag, help: `help for ${c.name}` }, ...globals });

  for (let i = 0; i < before.length; i++) {
    const w = before[i]!;
    const table = tableOf(cmd);
    const atEnd = i === before.length - 1;
    if (w === "--") {
      positional.push(...before.slice(i + 1));
      break;
    }
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      const spec = table[name];
      seen.add(name);
      if (takesValue(spec) && eq < 0 && (spec!.type !== "string" || spec!.optionalValue === undefined)) {
        if (atEnd) valueOf = spec;
        else if (name === "config") config = before[++i]!;
        else i++;
      } else if (name === "config" && eq >= 0) {
        config = w.slice(eq + 1);
      }
      continue;
    }
    if (w.startsWith("-") && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const name = Object.keys(table).find((k) => table[k]!.short === w[j]);
        if (!name) break;
        seen.add(name);
        if (takesValue(table[name])) {
          if (j === w.length - 1) {
            if (atEnd) valueOf = table[name];
            else i++;
          }
          break;
        }
      }
      continue;
    }
    const sub = positional.length === 0 ? cmd.subcommands?.find((s) => s.name === w || s.aliases?.includes(w)) : undefined;
    if (sub) cmd = sub;
    else positional.push(w);
  }

  const filter = (values: readonly string[], prefix = "") => values.filter((v) => (prefix + v).startsWith(toComplete)).map((v) => prefix + v);

  if (valueOf) {
    if (!valueOf.values) return { candidates: [], directive: 0 };
    return { candidates: filter(valueOf.values), directive: Directive.noFileComp };
  }

  if (toComplete.startsWith("-")) {
    const table = tableOf(cmd);
    const eq = toComplete.indexOf("=");
    if (eq >= 0) {
      const name = toComplete.slice(2, eq);
      const spec = table[name];
      if (!spec?.values) return { candidates: [], directive: spec && takesValue(spec) ? 0 : Directive.noFileComp };
      return { candidates: filter(spec.values, `--${name}=`), directive: Directive.noFileComp };
    }
    const out: string[] = [];
    for (const [name, f] of Object.entries(table)) {
      if (f.hidden || f.deprecated || (seen.has(name) && !repeatable(f))) continue;
      if (`--${name}`.startsWith(toComplete)) out.push(`--${name}\t${f.help}`);
      if (f.short && `-${f.short}`.startsWith(toComplete)) out.push(`-${f.short}\t${f.help}`);
    }
    return { candidates: out, directive: Directive.noFileComp };
  }

  // Sub-commands (with `help` beside them at the root).
  if (cmd.subcommands?.length && positional.length === 0) {
    const subs = cmd.subcommands.filter((s) => !s.hidden && s.name.startsWith(toComplete)).sort((a, b) => (a.name < b.name ? -1 : 1));
    return { candidates: subs.map((s) => `${s.name}\t${s.short}`), directive: Directive.noFileComp };
  }

  // `kit help <command…>` completes command names.
  if (cmd.helpTopic) {
    let target = root;
    for (const p of positional) target = target.subcommands?.find((s) => s.name === p) ?? target;
    const subs = (target.subcommands ?? []).filter((s) => !s.hidden && !s.helpTopic && s.name.startsWith(toComplete));
    return { candidates: subs.map((s) => `${s.name}\t${s.short}`), directive: Directive.noFileComp };
  }

  if (!cmd.run || positional.length >= (cmd.args?.max ?? 0)) return { candidates: [], directive: Directive.noFileComp };
  switch (cmd.argCompletion) {
    case "files": return { candidates: [], directive: 0 };
    case "dirs": return { candidates: [], directive: Directive.filterDirs };
    case "modelkit": {
      const home = resolveHome({ ...defaultHomeSources(config), env: where.env, cwd: where.cwd, platform: where.platform });
      return { candidates: await localModelKitCandidates(homePaths(home).storage, toComplete), directive: Directive.noFileComp | Directive.noSpace };
    }
  }
  return { candidates: [], directive: Directive.noFileComp };
}

/**
 * ModelKit references in local storage as kit completes them: `repo@digest` once `@` is typed,
 * `repo:tag` once `:` is typed, else `repo:tag` for a repository with one tag, `repo:` for one
 * with several and `repo` for one without tags.
 */
export async function localModelKitCandidates(storageDir: string, toComplete: string): Promise<string[]> {
  const out: string[] = [];
  for (const r of await readLocalReferences(storageDir)) {
    const name = displayRef(r.name);
    if (name === "") continue;
    if (toComplete.includes("@")) out.push(...r.digests.map((d) => `${name}@${d}`));
    else if (toComplete.includes(":")) out.push(...r.tags.map((t) => `${name}:${t}`));
    else if (r.tags.length === 1) out.push(`${name}:${r.tags[0]}`);
    else out.push(r.tags.length ? `${name}:` : name);
  }
  return out.filter((c) => c.startsWith(toComplete));
}

/** The `__complete` answer: candidates (descriptions dropped for `__completeNoDesc`), then `:<directive>`. */
export function formatCompletion(c: Completion, descriptions: boolean): string {
  const lines = c.candidates.map((x) => (descriptions ? x : x.split("\t")[0]!).replace(/\n/g, " "));
  return lines.map((l) => l + "\n").join("") + `:${c.directive}\n`;
}

// ---------------------------------------------------------------------------------------------
// Scripts

const request = (descriptions: boolean) => (descriptions ? "__complete" : "__completeNoDesc");

export function bashCompletion(name: string, descriptions: boolean): string {
  const fn = `__${name}_complete`;
  return `# bash completion for ${name}
# Load with: source <(${name} completion bash)
# Asks "${name} ${request(descriptions)} <words>" for the candidates of the word under the cursor.
${fn}() {
  local line="\${COMP_LINE:0:COMP_POINT}" cur="" out directive c v
  local -a words cands=()
  read -ra words <<< "$line"
  if [[ -n "$line" && ! "$line" =~ [[:space:]]$ ]]; then
    cur="\${words[\${#words[@]}-1]}"
    unset 'words[\${#words[@]}-1]'
  fi
  out=$("\${words[0]}" ${request(descriptions)} "\${words[@]:1}" "$cur" 2>/dev/null) || return 0
  directive="\${out##*:}"
  [[ "$directive" =~ ^[0-9]+$ ]] || return 0
  out="\${out%:*}"
  (( directive & 1 )) && return 0
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  if (( directive & 16 )); then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$cur")
    return 0
  fi
  while IFS= read -r c; do
    [[ -n "$c" ]] && cands+=("\${c%%$'\\t'*}")
  done <<< "$out"
  if (( \${#cands[@]} == 0 )); then
    if (( ! (directive & 4) )); then
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
  fi
  # Bash splits words at ':' and '=': replace only the part after the last of them.
  local head=""
  [[ "$cur" == *[:=]* && "$COMP_WORDBREAKS" == *:* ]] && head="\${cur%"\${cur##*[:=]}"}"
  COMPREPLY=()
  for v in "\${cands[@]}"; do
    [[ "$v" == "$cur"* ]] && COMPREPLY+=("\${v#"$head"}")
  done
  return 0
}
complete -F ${fn} ${name}
`;
}

export function zshCompletion(name: string, descriptions: boolean): string {
  return `#compdef ${name}
# zsh completion for ${name}
# Load with: source <(${name} completion zsh)  or save as _${name} in a directory of your $fpath
# Asks "${name} ${request(descriptions)} <words>" for the candidates of the word under the cursor.
_${name}() {
  local out directive c v d
  local -a lines cands
  out=$("\${words[1]}" ${request(descriptions)} "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive="\${lines[-1]#:}"
  [[ "$directive" == <-> ]] || return 1
  (( directive & 1 )) && return 1
  if (( directive & 16 )); then
    _path_files -/
    return
  fi
  for c in "\${(@)lines[1,-2]}"; do
    [[ -z "$c" ]] && continue
    v="\${c%%$'\\t'*}"
    v="\${v//:/\\\\:}"
    if [[ "$c" == *$'\\t'* ]]; then
      d="\${c#*$'\\t'}"
      cands+=("$v:$d")
    else
      cands+=("$v")
    fi
  done
  if (( \${#cands} == 0 )); then
    (( directive & 4 )) || _files
    return
  fi
  if (( directive & 2 )); then
    _describe -t values 'completions' cands -S ''
  else
    _describe -t values 'completions' cands
  fi
}
if [ "$funcstack[1]" = "_${name}" ]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

export function fishCompletion(name: string, descriptions: boolean): string {
  const fn = `__${name}_complete`;
  return `# fish completion for ${name}
# Load with: ${name} completion fish | source
# Asks "${name} ${request(descriptions)} <words>" for the candidates of the word under the cursor.
function ${fn}
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($tokens[1] ${request(descriptions)} $tokens[2..-1] $cur 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    string match -qr '^[0-9]+$' -- $directive; or return
    set -e out[-1]
    test (math "bitand($directive, 1)") -ne 0; and return
    if test (math "bitand($directive, 16)") -ne 0
        __fish_complete_directories $cur
        return
    end
    if test (count $out) -eq 0
        test (math "bitand($directive, 4)") -eq 0; and __fish_complete_path $cur
        return
    end
    # fish adds a space after a single candidate: offer a second one to keep the cursor put.
    if test (math "bitand($directive, 2)") -ne 0; and test (count $out) -eq 1
        set -l v (string split -m1 \\t -- $out[1])[1]
        printf '%s\\n' $v $v.
        return
    end
    printf '%s\\n' $out
end
complete -c ${name} -e
complete -c ${name} -f -a '(${fn})'
`;
}

export function powershellCompletion(name: string, descriptions: boolean): string {
  return `# powershell completion for ${name}
# Load with: ${name} completion powershell | Out-String | Invoke-Expression
# Asks "${name} ${request(descriptions)} <words>" for the candidates of the word under the cursor.
Register-ArgumentCompleter -Native -CommandName '${name}' -ScriptBlock {
    param($WordToComplete, $CommandAst, $CursorPosition)
    $Line = $CommandAst.Extent.ToString()
    $Offset = $CursorPosition - $CommandAst.Extent.StartOffset
    if ($Offset -lt $Line.Length) { $Line = $Line.Substring(0, $Offset) }
    $Words = @(($Line -split '\\s+') | Where-Object { $_ -ne '' })
    $Program = $Words[0]
    $Rest = @($Words | Select-Object -Skip 1)
    if ($WordToComplete -ne '' -and $Rest.Count -gt 0) { $Rest = @($Rest | Select-Object -SkipLast 1) }
    # Windows PowerShell and legacy argument passing drop an empty argument unless it is quoted.
    $Empty = ''
    if ($PSVersionTable.PSVersion -lt [version]'7.3.0' -or $PSNativeCommandArgumentPassing -eq 'Legacy') { $Empty = '""' }
    $Word = $WordToComplete
    if ($Word -eq '') { $Word = $Empty }
    $Out = @(& $Program ${request(descriptions)} @Rest $Word 2>$null)
    if ($Out.Count -eq 0) { return }
    $Last = $Out[$Out.Count - 1]
    if ($Last -notmatch '^:([0-9]+)$') { return }
    $Directive = [int]$Matches[1]
    $Candidates = @()
    if ($Out.Count -gt 1) { $Candidates = @($Out[0..($Out.Count - 2)] | Where-Object { $_ -ne '' }) }
    if ($Directive -band 1) { return }
    if (($Directive -band 16) -or ($Candidates.Count -eq 0 -and -not ($Directive -band 4))) {
        # Directories only, or any file: let PowerShell complete paths.
        $Items = Get-ChildItem -Path "$WordToComplete*" -ErrorAction SilentlyContinue
        if ($Directive -band 16) { $Items = $Items | Where-Object { $_.PSIsContainer } }
        $Items | ForEach-Object {
            [System.Management.Automation.CompletionResult]::new($_.Name, $_.Name, 'ProviderItem', $_.Name)
        }
        return
    }
    foreach ($Candidate in $Candidates) {
        $Parts = $Candidate -split "\`t", 2
        $Value = $Parts[0]
        $Description = if ($Parts.Count -gt 1 -and $Parts[1] -ne '') { $Parts[1] } else { $Value }
        if (-not $Value.StartsWith($WordToComplete)) { continue }
        $Text = $Value
        if (-not ($Directive -band 2)) { $Text = "$Value " }
        [System.Management.Automation.CompletionResult]::new($Text, $Value, 'ParameterValue', $Description)
    }
}
`;
}

/** Each shell: its script generator and cobra's help text for `kit completion <shell>`. */
export const SHELLS: Record<string, { script: (name: string, descriptions: boolean) => string; help: (kit: string) => string }> = {
  bash: {
    script: bashCompletion,
    help: (kit) => `Generate the autocompletion script for the bash shell.

To load completions in your current shell session:

\tsource <(${kit} completion bash)

To load completions for every new session, execute once:

#### Linux:

\t${kit} completion bash > /etc/bash_completion.d/${kit}

#### macOS:

\t${kit} completion bash > $(brew --prefix)/etc/bash_completion.d/${kit}

You will need to start a new shell for this setup to take effect.`,
  },
  fish: {
    script: fishCompletion,
    help: (kit) => `Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

\t${kit} completion fish | source

To load completions for every new session, execute once:

\t${kit} completion fish > ~/.config/fish/completions/${kit}.fish

You will need to start a new shell for this setup to take effect.`,
  },
  powershell: {
    script: powershellCompletion,
    help: (kit) => `Generate the autocompletion script for powershell.

To load completions in your current shell session:

\t${kit} completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.`,
  },
  zsh: {
    script: zshCompletion,
    help: (kit) => `Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

\techo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

\tsource <(${kit} completion zsh)

To load completions for every new session, execute once:

#### Linux:

\t${kit} completion zsh > "\${fpath[1]}/_${kit}"

#### macOS:

\t${kit} completion zsh > $(brew --prefix)/share/zsh/site-functions/_${kit}

You will need to start a new shell for this setup to take effect.`,
  },
};
