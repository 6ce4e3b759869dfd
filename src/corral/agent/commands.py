"""Which shell commands an agent should run through corral instead: a pure matcher, no I/O.

Three kinds of command are caught, and only when they concern *this project's* services (see
README, "What the guard matches"):

- ``direct_start``: a command that runs a configured service's command itself (``npm run dev``,
  ``python manage.py runserver``, ``nohup ... &``), compared word by word with the resolved
  command after both are normalised (wrappers, variable assignments, redirections and runner
  spellings such as ``yarn dev`` for ``npm run dev`` taken out);
- ``kill_by_port`` / ``kill_by_name``: ``lsof ... | xargs kill``, ``kill $(lsof ...)``,
  ``fuser -k``, ``npx kill-port``, ``pkill``, ``killall``, ``ps | grep | xargs kill`` aimed at a
  service's port, program or command line;
- ``follow_log``: ``tail -f`` (or ``less +F``) of a log under ``.corral/logs/``.

A false alarm costs the agent more than a miss (corral still cleans up after a miss), so every
rule needs a positive match against the configuration; whatever cannot be parsed passes.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corral.agent.words import (
    SCRIPT,
    VARIABLE,
    main_segment,
    normalise,
    program_name,
    runs_service,
    segments,
    shell_string,
    strip_wrappers,
)

PKILL_OPTION_ARGS = {
    "-u",
    "-U",
    "-g",
    "-G",
    "-P",
    "-s",
    "-t",
    "-F",
    "--signal",
    "--uid",
    "--euid",
    "--group",
    "--pgroup",
    "--parent",
    "--session",
    "--terminal",
    "--pidfile",
    "--ns",
    "--nslist",
}
KILLALL_OPTION_ARGS = {"-s", "--signal", "-u", "--user", "-o", "--older-than", "-y"}
MAX_DEPTH = 3  # sh -c "sh -c '...'": how deep nested shell strings are read


@dataclass(frozen=True)
class Target:
    """One service as the matcher sees it."""

    name: str
    words: tuple[str, ...]  # the normalised main command; $VAR words match any value
    programs: frozenset[str]  # the process names it runs under (pkill/killall without -f)
    command_lines: tuple[str, ...]  # what ``pkill -f`` would see: as written, and expanded
    ports: tuple[int, ...]  # declared ports and PORT


@dataclass(frozen=True)
class Denial:
    rule: str  # direct_start | kill_by_port | kill_by_name | follow_log
    service: str | None
    reason: str  # for the model: what was wrong and the corral command to use


def targets_of(project: object) -> list[Target]:
    """The matcher's view of a resolved ``ProjectSpec``."""
    targets = []
    for spec in getattr(project, "services", ()):
        command = spec.command
        main = main_segment(command) if isinstance(command, str) else list(command)
        stripped = strip_wrappers(main)
        normalised = normalise(main)
        programs = set()
        if stripped:
            first = os.path.basename(stripped[0])
            programs |= {first, program_name(first)}
            if program_name(first) in ("npm", "pnpm", "yarn", "bun", "npx"):
                programs.add("node")
        if normalised and normalised[0] != SCRIPT:
            programs.add(normalised[0])
        targets.append(
            Target(
                name=spec.name,
                words=tuple(normalised),
                programs=frozenset(programs),
                command_lines=(spec.command_line, _expand(spec.command_line, spec.env)),
                ports=_ports(spec),
            )
        )
    return targets


def check(command: str, targets: Sequence[Target], allow: Iterable[str] = ()) -> Denial | None:
    """The denial for ``command``, or None: it passes untouched."""
    text = command.strip()
    if not text or not targets or any(fnmatch.fnmatchcase(text, p) for p in allow):
        return None
    return _check(text, targets, 0)


def _check(text: str, targets: Sequence[Target], depth: int) -> Denial | None:
    parts = segments(text)
    for segment in parts:
        nested = shell_string(segment)
        if nested is not None and depth < MAX_DEPTH:
            found = _check(nested, targets, depth + 1)
            if found:
                return found
    return (
        _follow_log(parts)
        or _kill_by_port(text, parts, targets)
        or _kill_by_name(text, parts, targets)
        or _direct_start(text, parts, targets)
    )


# ---- the rules ---------------------------------------------------------------------------


def _direct_start(text: str, segments: list[list[str]], targets: Sequence[Target]) -> Denial | None:
    for segment in segments:
        typed = normalise(segment)
        if typed and typed[0] == "corral":
            continue
        for target in targets:
            if runs_service(typed, target.words):
                shown = _shorten(" ".join(segment))
                reason = (
                    f"`{shown}` runs the command of service '{target.name}' directly: started "
                    "from this shell it dies with the session or is left orphaned on its port, "
                    "and corral cannot stop it. Use `corral start "
                    f"{target.name}` instead (it returns once the service is ready; then "
                    f"`corral logs {target.name}` for its output and `corral stop "
                    f"{target.name}` to stop it)."
                )
                return Denial("direct_start", target.name, reason)
    return None


def _has_kill(segments: list[list[str]]) -> bool:
    for segment in segments:
        words = strip_wrappers(segment)
        names = [os.path.basename(w) for w in words]
        if names and (names[0] == "kill" or (names[0] == "xargs" and "kill" in names[1:])):
            return True
    return False


def _kill_by_port(text: str, segments: list[list[str]], targets: Sequence[Target]) -> Denial | None:
    killing = _has_kill(segments)
    for segment in segments:
        words = strip_wrappers(segment)
        if not words:
            continue
        name = os.path.basename(words[0])
        if name == "fuser" and any(_short_flag(w, "k") for w in words[1:]):
            ports = _fuser_ports(words[1:])
        elif name == "kill-port" or words[:2] == ["npx", "kill-port"]:
            ports = [int(w) for w in words[1:] if w.isdigit()]
        elif name in ("lsof", "ss", "netstat") and killing:
            ports = [int(m) for w in words[1:] for m in re.findall(r":(\d{1,5})\b", w)]
        else:
            continue
        for port in ports:
            target = _owner_of(port, targets)
            if target is not None:
                return Denial("kill_by_port", target.name, _kill_reason(text, target, port))
    return None


def _fuser_ports(words: list[str]) -> list[int]:
    ports = [int(m.group(1)) for w in words if (m := re.match(r"^(\d{1,5})/(tcp|udp)$", w))]
    if "tcp" in words or "udp" in words:  # fuser -k -n tcp 8000
        ports += [int(w) for w in words if w.isdigit()]
    return ports


def _owner_of(port: int, targets: Sequence[Target]) -> Target | None:
    return next((t for t in targets if port in t.ports), None)


def _kill_by_name(text: str, segments: list[list[str]], targets: Sequence[Target]) -> Denial | None:
    killing = _has_kill(segments)
    for segment in segments:
        words = strip_wrappers(segment)
        if not words:
            continue
        name = os.path.basename(words[0])
        if name == "pkill" or (name == "pgrep" and killing):
            full, patterns = _pkill_patterns(words[1:])
            found = _pattern_owner(patterns, targets, full)
        elif name == "killall":
            found = _killall_owner(words[1:], targets)
        elif name == "grep" and killing and any(_first(s) == "ps" for s in segments):
            found = _pattern_owner(_grep_patterns(words[1:]), targets, True)
        else:
            continue
        if found is not None:
            reason = (
                f"`{_shorten(text)}` kills by name, which reaches service "
                f"'{found.name}' of this project (and anything else that matches). Use `corral "
                f"stop {found.name}` (every process it started, with proof; `corral stop` for "
                "all). For a process corral did not start, `corral port PORT` names it and "
                "`corral free PORT --force` stops it."
            )
            return Denial("kill_by_name", found.name, reason)
    return None


def _first(segment: list[str]) -> str:
    words = strip_wrappers(segment)
    return os.path.basename(words[0]) if words else ""


def _pkill_patterns(words: list[str]) -> tuple[bool, list[str]]:
    full, patterns, index = False, [], 0
    while index < len(words):
        word = words[index]
        if word in PKILL_OPTION_ARGS:
            index += 2
            continue
        if word == "--full" or _short_flag(word, "f"):
            full = True
        elif not word.startswith("-"):
            patterns.append(word)
        index += 1
    return full, patterns


def _grep_patterns(words: list[str]) -> list[str]:
    if any(_short_flag(w, "v") or w == "--invert-match" for w in words):
        return []  # "grep -v grep" filters; it names nothing to kill
    return [w for w in words if not w.startswith("-")][:1]


def _short_flag(word: str, letter: str) -> bool:
    """``-k``, ``-km``, ``-fx``: a cluster of short options that holds ``letter``."""
    return (
        word.startswith("-")
        and not word.startswith("--")
        and word[1:].isalpha()
        and word[1:].islower()
        and letter in word[1:]
    )


def _pattern_owner(patterns: list[str], targets: Sequence[Target], full: bool) -> Target | None:
    for pattern in patterns:
        for target in targets:
            haystacks = target.command_lines if full else tuple(target.programs)
            if any(_search(pattern, text) for text in haystacks):
                return target
    return None


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def _killall_owner(words: list[str], targets: Sequence[Target]) -> Target | None:
    names, index, regex = [], 0, False
    while index < len(words):
        word = words[index]
        if word in KILLALL_OPTION_ARGS:
            index += 2
            continue
        if word in ("-r", "--regexp"):
            regex = True
        elif not word.startswith("-"):
            names.append(word)
        index += 1
    for name in names:
        for target in targets:
            programs = {program_name(p) for p in target.programs} | set(target.programs)
            if (regex and any(_search(name, p) for p in programs)) or program_name(
                name
            ) in programs:
                return target
    return None


def _follow_log(segments: list[list[str]]) -> Denial | None:
    for segment in segments:
        words = strip_wrappers(segment)
        if not words:
            continue
        name = os.path.basename(words[0])
        options = [w for w in words[1:] if w.startswith(("-", "+"))]
        if name == "tail":
            following = any(
                w.startswith("--follow")
                or (w.startswith("-") and not w.startswith("--") and ("f" in w or "F" in w))
                for w in options
            )
        elif name == "less":
            following = "+F" in options
        else:
            continue
        logs = [w for w in words[1:] if ".corral/logs/" in w or w.startswith(".corral/logs")]
        if following and logs:
            service = os.path.basename(logs[0]).split(".log")[0] or None
            named = service or "SERVICE"
            reason = (
                f"`{_shorten(' '.join(words))}` follows a corral log without end, and this shell "
                f"waits on it until it times out. Use `corral logs {named} -n 100` (bounded), "
                f"`corral logs {named} -f --for 30s`, or `corral wait {named} --log REGEX` to "
                "wait for a line."
            )
            return Denial("follow_log", service, reason)
    return None


# ---- helpers -----------------------------------------------------------------------------


def _kill_reason(text: str, target: Target, port: int) -> str:
    return (
        f"`{_shorten(text)}` kills whatever holds port {port}, which is service "
        f"'{target.name}' of this project. Use `corral stop {target.name}` (stops every process "
        f"it started and checks the port is free) or `corral free {port}`; a process corral did "
        f"not start: `corral port {port}` names it, `corral free {port} --force` stops it."
    )


def _ports(spec: object) -> tuple[int, ...]:
    ports = list(getattr(spec, "ports", ()))
    value = getattr(spec, "env", {}).get("PORT", "")
    if value.isdigit() and int(value) not in ports:
        ports.append(int(value))
    return tuple(ports)


def _expand(text: str, env: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(0).strip("${}")
        return env.get(name, match.group(0))

    return VARIABLE.sub(value, text)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["Denial", "Target", "check", "runs_service", "targets_of"]
