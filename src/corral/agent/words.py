"""Shell words, as the agent guard reads them: a command line split into its segments (pipes,
lists, subshells), nested ``sh -c`` strings opened, and the words normalised (wrappers, variable
assignments, redirections and runner spellings taken out) so that two ways of running the same
program compare equal. Pure: no I/O."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

SCRIPT = "<script>"  # a package runner's script, whatever runner spelled it
HELP_FLAGS = {"-h", "--help", "-V", "--version", "help"}
PORTLIKE = re.compile(r"^(\[?[\w.:-]*\]?:)?\d{1,5}$")  # 8000, 0.0.0.0:8000, [::1]:8000
VARIABLE = re.compile(r"\$\{?\w+\}?")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}
INTERPRETERS = {"node", "ruby", "perl", "php", "deno", "bun"}
RUNNERS = {"uv", "poetry", "pipenv", "pdm", "rye", "hatch"}  # "X run COMMAND"
WRAPPERS = {"nohup", "exec", "setsid", "command", "time", "caffeinate"}
WRAPPERS_WITH_OPTIONS = {"env", "nice", "stdbuf", "sudo", "timeout", "chrt", "ionice"}
OPTION_ARGS = {"-n", "-u", "-g", "-s", "-k", "-C", "-S", "-p", "-c"}  # of those wrappers
PACKAGE_BUILTINS = {
    "add",
    "audit",
    "bin",
    "cache",
    "ci",
    "config",
    "create",
    "dlx",
    "exec",
    "i",
    "info",
    "init",
    "install",
    "link",
    "list",
    "ls",
    "outdated",
    "pack",
    "publish",
    "remove",
    "rm",
    "unlink",
    "up",
    "update",
    "upgrade",
    "version",
    "why",
    "workspace",
    "workspaces",
    "x",
}
NPM_SHORTCUTS = {"start", "test", "t", "stop", "restart"}
NPM_OPTION_ARGS = {"--prefix", "-C", "--workspace", "-w", "--dir", "--cwd", "--filter", "-F"}
LEADING_KEYWORDS = {"then", "else", "elif", "do", "!", "{", "if", "while", "until"}
CLOSING_KEYWORDS = {"done", "fi", "esac", "}", "then", "do", "else"}


def segments(text: str) -> list[list[str]]:
    """The simple commands of a command line, redirections removed: ``a && b | c &`` gives
    [a], [b], [c]. Command substitutions become commands of their own. Unparseable: []."""
    lexer = shlex.shlex(
        text.replace("`", " ; ").replace("\n", " ; "), posix=True, punctuation_chars=True
    )
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unclosed quote: not ours to judge
        return []
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if token and set(token) <= set("();<>|&"):
            if "<" in token or ">" in token:  # a redirection: drop it, its fd and its target
                current = segments[-1]
                if current and len(current[-1]) == 1 and current[-1].isdigit():
                    current.pop()
                skip_next = True
                continue
            segments.append([])
            continue
        segments[-1].append(token)
    cleaned = []
    for segment in segments:
        while segment and segment[-1] == "$":  # "$" of "$(", now a separator
            segment.pop()
        if segment:
            cleaned.append(segment)
    return cleaned


def main_segment(command: str) -> list[str]:
    """The simple command a service's shell command line ends in (``cd web && exec npm run
    dev``: npm run dev; ``while true; do node x.js; done``: node x.js): what runs it."""
    for segment in reversed(segments(command)):
        words = strip_wrappers(segment)
        if words and words[0] not in CLOSING_KEYWORDS:
            return segment
    return []


def shell_string(segment: list[str]) -> str | None:
    """The command string of ``sh -c '...'`` (after wrappers), else None."""
    words = strip_wrappers(segment)
    if len(words) >= 3 and os.path.basename(words[0]) in SHELLS and words[1] == "-c":
        return words[2]
    return None


def strip_wrappers(words: Sequence[str]) -> list[str]:
    """Without leading ``VAR=value`` words and wrappers (nohup, env, timeout, nice, ...)."""
    index = 0
    while index < len(words):
        word = words[index]
        name = os.path.basename(word)
        if ASSIGNMENT.match(word) or name in WRAPPERS or word in LEADING_KEYWORDS:
            index += 1
        elif name in WRAPPERS_WITH_OPTIONS:
            index += 1
            while index < len(words) and (
                words[index].startswith("-") or ASSIGNMENT.match(words[index])
            ):
                index += 2 if words[index] in OPTION_ARGS else 1
            if name == "timeout" and index < len(words):
                index += 1  # the duration
        else:
            break
    return list(words[index:])


def program_name(name: str) -> str:
    base = os.path.basename(name)
    return "python" if PYTHON.match(base) else base


def normalise(words: Sequence[str]) -> list[str]:
    """One spelling per way of running a program: ``python3 ./manage.py runserver`` and
    ``./manage.py runserver`` give [manage.py, runserver]; ``yarn dev``, ``pnpm run dev`` and
    ``npm run dev`` give [<script>, dev]; ``npx vite`` and ``vite`` give [vite]."""
    words = strip_wrappers(words)
    if not words:
        return []
    program, rest = program_name(words[0]), list(words[1:])
    if program in ("npx", "bunx"):
        return normalise([w for w in rest if w not in ("-y", "--yes")])
    if program in RUNNERS and rest[:1] == ["run"]:
        return normalise(rest[1:])
    if program == "bundle" and rest[:1] == ["exec"]:
        return normalise(rest[1:])
    if program in ("npm", "pnpm", "yarn", "bun"):
        script = _script(program, rest)
        if script is not None:
            return [SCRIPT, *script]
        if program in ("pnpm", "yarn") and rest[:1] == ["exec"]:
            return normalise(rest[1:])
    if program == "python":
        return _python(rest)
    if program in INTERPRETERS and rest and not rest[0].startswith("-"):
        if program == "deno" and rest[0] == "run":
            rest = [w for w in rest[1:] if not w.startswith("-")]
        return [os.path.basename(rest[0]), *rest[1:]] if rest else []
    return [program, *rest]


def _script(program: str, rest: list[str]) -> list[str] | None:
    """The script (and its arguments) a package runner runs, or None if it runs none."""
    index = 0
    while index < len(rest) and rest[index].startswith("-"):
        index += 2 if rest[index] in NPM_OPTION_ARGS else 1
    words = rest[index:]
    if not words:
        return None
    verb = words[0]
    if verb in ("run", "run-script", "rum", "urn"):
        named = words[1:]
        while named and named[0].startswith("-"):
            named = named[1:]
        return [w for w in named if w != "--"] or None
    if program == "npm":
        return [words[0], *[w for w in words[1:] if w != "--"]] if verb in NPM_SHORTCUTS else None
    if verb in PACKAGE_BUILTINS:
        return None
    return [w for w in words if w != "--"]


def _python(rest: list[str]) -> list[str]:
    index = 0
    while index < len(rest) and rest[index].startswith("-"):
        option = rest[index]
        if option == "-m" and index + 1 < len(rest):
            return [rest[index + 1], *rest[index + 2 :]]
        if option == "-c":
            return ["python", "-c"]  # inline code is nobody's service
        index += 2 if option in ("-X", "-W") else 1
    if index < len(rest):
        return [os.path.basename(rest[index]), *rest[index + 1 :]]
    return ["python"]


def core_words(words: Sequence[str]) -> list[str]:
    """The leading words before the first option."""
    core = []
    for word in words:
        if word.startswith("-"):
            break
        core.append(word)
    return core


def _word_matches(service_word: str, typed: str) -> bool:
    if "$" not in service_word:
        return service_word == typed
    parts = VARIABLE.split(service_word)
    pattern = ".*".join(re.escape(part) for part in parts)
    return re.fullmatch(pattern, typed) is not None or PORTLIKE.match(typed) is not None


def runs_service(typed: Sequence[str], service: Sequence[str]) -> bool:
    """Whether normalised words ``typed`` run the normalised service command ``service``:
    the same words before the first option (a ``$VAR`` word matching any value), where the
    typed command may leave out trailing ``$VAR`` words or add port-like ones (``8001``,
    ``0.0.0.0:8001``). A request for help or a version never matches."""
    if not typed or not service or any(word in HELP_FLAGS for word in typed):
        return False
    mine, theirs = core_words(typed), core_words(service)
    if not mine or not theirs:
        return False
    if not all(_word_matches(s, t) for s, t in zip(theirs, mine, strict=False)):
        return False
    if len(mine) < len(theirs):
        fits = all("$" in word for word in theirs[len(mine) :])
    else:
        fits = all(PORTLIKE.match(word) for word in mine[len(theirs) :])
    return fits and _keeps_arguments(typed[len(mine) :], service[len(theirs) :])


def _keeps_arguments(typed: Sequence[str], service: Sequence[str]) -> bool:
    """The service's plain words after its first option (``worker`` in ``celery -A proj
    worker``) appear in the typed command in the same order: ``celery -A proj inspect`` is
    another command. Options, ``$VAR`` and port-like words may differ."""
    wanted = [
        w for w in service if not w.startswith("-") and "$" not in w and not PORTLIKE.match(w)
    ]
    remaining = iter(typed)
    return all(any(word == have for have in remaining) for word in wanted)
