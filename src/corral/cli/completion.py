"""``corral completion SHELL``: completion scripts for bash, zsh and fish, generated from the
argument parser itself, so that new commands and options complete without further work. Service
names are completed by asking ``corral config --json`` at completion time (bounded to 2 s)."""

from __future__ import annotations

import argparse

from corral.cli.arguments import SHELLS
from corral.cli.parser import build_parser
from corral.cli.render import Output
from corral.errors import ExitCode

__all__ = ["SHELLS", "bash", "fish", "run_completion", "zsh"]
SERVICES = "timeout 2 corral config --names 2>/dev/null"


def commands(parser: argparse.ArgumentParser) -> dict[str, tuple[list[str], bool]]:
    """command name -> (its option strings, whether it takes SERVICE arguments)."""
    found: dict[str, tuple[list[str], bool]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options = sorted({o for a in sub._actions for o in a.option_strings})
                takes_services = any(a.metavar == "SERVICE" for a in sub._actions)
                found[name] = (options, takes_services)
    return found


def bash(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    cases = "\n".join(
        f"        {name}) opts='{' '.join(options)}'; services={1 if services else 0};;"
        for name, (options, services) in sorted(table.items())
    )
    return f"""# bash completion for corral (source it, or save it as
# ~/.local/share/bash-completion/completions/corral)
_corral() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} command="" opts="" services=0 i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in -*) ;; *) command=${{COMP_WORDS[i]}}; break;; esac
    done
    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "{" ".join(sorted(table))} --help --version -C -f" -- "$cur"))
        return
    fi
    case $command in
{cases}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ $services == 1 ]]; then
        COMPREPLY=($(compgen -W "$({SERVICES})" -- "$cur"))
    fi
}}
complete -F _corral corral
"""


def zsh(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    cases = "\n".join(
        f"        {name}) opts=({' '.join(options)}); services={1 if services else 0};;"
        for name, (options, services) in sorted(table.items())
    )
    return f"""#compdef corral
# zsh completion for corral (save as _corral in a directory of your $fpath)
_corral() {{
    local -a opts
    local services=0
    if (( CURRENT == 2 )); then
        compadd -- {" ".join(sorted(table))}
        return
    fi
    case $words[2] in
{cases}
    esac
    if [[ $PREFIX == -* ]]; then
        compadd -- $opts
    elif (( services )); then
        compadd -- ${{=$({SERVICES})}}
    fi
}}
compdef _corral corral
"""


def fish(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    lines = [
        "# fish completion for corral (save as ~/.config/fish/completions/corral.fish)",
        "complete -c corral -f",
    ]
    names = " ".join(sorted(table))
    lines.append(f"complete -c corral -n 'not __fish_seen_subcommand_from {names}' -a '{names}'")
    for name, (options, services) in sorted(table.items()):
        for option in options:
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            lines.append(f"complete -c corral -n '__fish_seen_subcommand_from {name}' {flag}")
        if services:
            lines.append(
                f"complete -c corral -n '__fish_seen_subcommand_from {name}' -a '({SERVICES})'"
            )
    return "\n".join(lines) + "\n"


def run_completion(args: argparse.Namespace, out: Output) -> int:
    generate = {"bash": bash, "zsh": zsh, "fish": fish}[args.shell]
    out.stdout.write(generate(build_parser()))
    return ExitCode.OK
