"""process-compose's keys translated into corral's, one small method per key family (see
``corral.config.compose``, which parses the file and calls ``Translator.project``)."""

from __future__ import annotations

import re

from corral.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from corral.config.compose import ComposeSource

# Keys that change nothing corral does: informational only.
_INFORMATIONAL = {"version", "description", "namespace"}
PROCESS_KEYS = {
    "command",
    "entrypoint",
    "working_dir",
    "environment",
    "env_file",
    "depends_on",
    "readiness_probe",
    "ready_log_line",
    "availability",
    "shutdown",
    "disabled",
    "replicas",
}
CONDITIONS = (
    "process_started",
    "process_healthy",
    "process_log_ready",
    "process_completed",
    "process_completed_successfully",
)
_COMPLETION = {"process_completed", "process_completed_successfully"}
_RESTART = {"always": "always", "on_failure": "on-failure", "no": "no"}
_DEFAULT_PERIOD = 10.0  # process-compose's probe defaults (as Kubernetes')
_DEFAULT_PROBE_TIMEOUT = 1.0
_DEFAULT_FAILURES = 3
_MIN_PROBE_TIMEOUT = 30.0
_WHOLE_DAY = "24h"  # max_restarts counts restarts over the whole run, not a window


class Translator:
    """process-compose's keys -> corral's table, one small method per key family."""

    def __init__(self, source: ComposeSource, yaml_lines: dict[tuple[str, ...], int]) -> None:
        self.source = source
        self.yaml_lines = yaml_lines
        self.services: dict[str, dict[str, object]] = {}
        self.replicas: dict[str, list[str]] = {}  # a process -> the names of its replicas

    def fail(self, yaml_keys: tuple[str, ...], message: str, hint: str | None = None) -> None:
        where = ".".join(yaml_keys)
        line = self._yaml_line(yaml_keys)
        raise ConfigError(self.source.path, f"{where}: {message}", line=line, hint=hint)

    def _yaml_line(self, yaml_keys: tuple[str, ...]) -> int | None:
        path = yaml_keys
        while path:
            if path in self.yaml_lines:
                return self.yaml_lines[path]
            path = path[:-1]
        return None

    def note(self, corral_keys: tuple[str, ...], yaml_keys: tuple[str, ...]) -> None:
        """Remember that corral's ``corral_keys`` came from the YAML's ``yaml_keys``."""
        self.source.names[corral_keys] = ".".join(yaml_keys)
        line = self._yaml_line(yaml_keys)
        if line is not None:
            self.source.lines[corral_keys] = line

    def cannot(self, yaml_keys: tuple[str, ...]) -> None:
        self.source.warnings.append(".".join(yaml_keys))

    # ---- the document ---------------------------------------------------------------------

    def project(self, document: object) -> None:
        if not isinstance(document, dict):
            self.fail((), "expected a mapping with a 'processes' key", "see process-compose's docs")
        assert isinstance(document, dict)
        processes = document.get("processes")
        if not isinstance(processes, dict) or not processes:
            self.fail(("processes",), "expected a mapping of process names to their settings")
        assert isinstance(processes, dict)
        global_env = self.environment(document.get("environment"), ("environment",))
        for key in document:
            if key not in {"processes", "environment", *_INFORMATIONAL} and not _extension(key):
                self.cannot((str(key),))
        for name, settings in processes.items():
            self.process(str(name), settings, global_env)
        for name, settings in processes.items():
            self.dependencies(str(name), settings)
        self.source.data = {"services": self.services}

    def process(self, name: str, settings: object, global_env: dict[str, str]) -> None:
        keys = ("processes", name)
        if not isinstance(settings, dict):
            self.fail(keys, "expected a mapping of settings (command: ...)")
        assert isinstance(settings, dict)
        for key in settings:
            if key not in PROCESS_KEYS | _INFORMATIONAL and not _extension(key):
                self.cannot((*keys, str(key)))
        table: dict[str, object] = {}
        self.command(table, settings, keys, name)
        self.simple(table, settings, keys, name)
        env = {
            **global_env,
            **self.environment(settings.get("environment"), (*keys, "environment")),
        }
        self.probe(table, settings, keys, name)
        self.availability(table, settings.get("availability"), (*keys, "availability"), name)
        self.shutdown(table, settings.get("shutdown"), (*keys, "shutdown"), name)
        count = self.replica_count(settings, keys)
        names = [name] if count == 1 else [f"{name}-{index}" for index in range(count)]
        self.replicas[name] = names
        for index, service in enumerate(names):
            copy = dict(table)
            replica_env = dict(env)
            if count > 1:
                replica_env["PC_REPLICA_NUM"] = str(index)
                copy.pop("port", None)  # replicas cannot all own the probe's port
            if replica_env:
                copy["env"] = replica_env
                self.note(("services", service, "env"), (*keys, "environment"))
            self.services[service] = copy
            self._copy_notes(name, service)

    def _copy_notes(self, name: str, service: str) -> None:
        if service == name:
            self.note(("services", name), ("processes", name))
            return
        for mapping in (self.source.names, self.source.lines):
            for path, value in list(mapping.items()):
                if path[:2] == ("services", name):
                    mapping[("services", service, *path[2:])] = value  # type: ignore[assignment]
        self.note(("services", service), ("processes", name))

    def command(
        self,
        table: dict[str, object],
        settings: dict,
        keys: tuple[str, ...],
        name: str,  # type: ignore[type-arg]
    ) -> None:
        if "entrypoint" in settings:  # a list exec'd as is, with command as its arguments
            entry = settings["entrypoint"]
            extra = settings.get("command")
            if not isinstance(entry, list) or (extra is not None and not isinstance(extra, list)):
                self.fail(
                    (*keys, "entrypoint"),
                    "expected a list of strings (with 'command' as a list too)",
                )
            table["command"] = [str(part) for part in [*entry, *(extra or [])]]
            self.note(("services", name, "command"), (*keys, "entrypoint"))
        elif "command" in settings:
            table["command"] = settings["command"]
            self.note(("services", name, "command"), (*keys, "command"))
        else:
            self.fail(keys, "has no command", 'add command: "..."')

    def simple(
        self,
        table: dict[str, object],
        settings: dict,
        keys: tuple[str, ...],
        name: str,  # type: ignore[type-arg]
    ) -> None:
        if "working_dir" in settings:
            table["cwd"] = settings["working_dir"]
            self.note(("services", name, "cwd"), (*keys, "working_dir"))
        if "env_file" in settings:
            table["env_file"] = settings["env_file"]
            self.note(("services", name, "env_file"), (*keys, "env_file"))
        if "disabled" in settings:
            disabled = settings["disabled"]
            table["autostart"] = (not disabled) if isinstance(disabled, bool) else disabled
            self.note(("services", name, "autostart"), (*keys, "disabled"))

    def environment(self, value: object, keys: tuple[str, ...]) -> dict[str, str]:
        """``["A=1", "B=2"]`` (process-compose's form) or a mapping."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return {str(k): "" if v is None else _scalar(v) for k, v in value.items()}
        if isinstance(value, list):
            env: dict[str, str] = {}
            for item in value:
                if not isinstance(item, str) or "=" not in item:
                    self.fail(
                        keys, f"expected NAME=value strings, got {item!r}", 'write - "NAME=value"'
                    )
                key, _, text = str(item).partition("=")
                env[key] = text
            return env
        self.fail(keys, "expected a list of NAME=value strings")
        return {}

    def probe(
        self,
        table: dict[str, object],
        settings: dict,
        keys: tuple[str, ...],
        name: str,  # type: ignore[type-arg]
    ) -> None:
        probe = settings.get("readiness_probe")
        log_line = settings.get("ready_log_line")
        if probe is not None:
            table["ready"] = self.readiness(probe, (*keys, "readiness_probe"), table)
            self.note(("services", name, "ready"), (*keys, "readiness_probe"))
            self.note(("services", name, "port"), (*keys, "readiness_probe", "http_get", "port"))
            if log_line is not None:
                self.cannot((*keys, "ready_log_line"))  # one probe per service in corral
        elif log_line is not None:
            if not isinstance(log_line, str) or not log_line:
                self.fail((*keys, "ready_log_line"), "expected the text of a log line")
            table["ready"] = {"log": _literal_pattern(str(log_line))}
            self.note(("services", name, "ready"), (*keys, "ready_log_line"))

    def readiness(
        self, probe: object, keys: tuple[str, ...], table: dict[str, object]
    ) -> dict[str, object]:
        if not isinstance(probe, dict):
            self.fail(keys, "expected a mapping with http_get or exec")
        assert isinstance(probe, dict)
        kinds = [kind for kind in ("http_get", "exec") if kind in probe]
        if len(kinds) != 1:
            self.fail(keys, "give exactly one of http_get or exec")
        known = {"http_get", "exec", "initial_delay_seconds", "period_seconds"}
        known |= {"timeout_seconds", "failure_threshold", "success_threshold"}
        for key in probe:
            if key not in known:
                self.cannot((*keys, str(key)))
        if probe.get("success_threshold", 1) != 1:
            self.cannot((*keys, "success_threshold"))
        ready: dict[str, object] = {}
        if kinds[0] == "http_get":
            ready["http"] = self.http_url(probe["http_get"], (*keys, "http_get"), table)
        else:
            ready["cmd"] = self.exec_command(probe["exec"], (*keys, "exec"))
        period = _seconds(probe.get("period_seconds", _DEFAULT_PERIOD))
        each = _seconds(probe.get("timeout_seconds", _DEFAULT_PROBE_TIMEOUT))
        failures = probe.get("failure_threshold", _DEFAULT_FAILURES)
        delay = _seconds(probe.get("initial_delay_seconds", 0))
        if None in (period, each, delay) or not isinstance(failures, int) or failures < 1:
            self.fail(keys, "probe timings must be numbers of seconds, thresholds whole numbers")
        assert period is not None and each is not None and delay is not None
        # process-compose gives up after failure_threshold failed probes, one per period; a
        # dev server's first build can take longer, so never less than corral's own default.
        ready["timeout"] = max(_MIN_PROBE_TIMEOUT, delay + failures * (period + each))
        ready["interval"] = min(period, 1.0) if period > 0 else 0.1
        return ready

    def http_url(self, http: object, keys: tuple[str, ...], table: dict[str, object]) -> str:
        if not isinstance(http, dict) or "port" not in http:
            self.fail(keys, "expected a mapping with at least a port", "add port: 8080")
        assert isinstance(http, dict)
        host = str(http.get("host") or "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host  # probe where it binds
        scheme = str(http.get("scheme") or "http").lower()
        path = str(http.get("path") or "/")
        port = http["port"]
        if isinstance(port, int) and not isinstance(port, bool):
            table["port"] = port
        return f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"

    def exec_command(self, spec: object, keys: tuple[str, ...]) -> object:
        if not isinstance(spec, dict) or "command" not in spec:
            self.fail(keys, "expected a mapping with a command")
        assert isinstance(spec, dict)
        for key in spec:
            if key != "command":
                self.cannot((*keys, str(key)))
        return spec["command"]

    def availability(
        self, table: dict[str, object], value: object, keys: tuple[str, ...], name: str
    ) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(keys, "expected a mapping (restart: on_failure, ...)")
        assert isinstance(value, dict)
        for key in value:
            if key not in ("restart", "max_restarts"):
                self.cannot((*keys, str(key)))  # backoff_seconds, exit_on_end, ...
        restart = value.get("restart")
        if restart is not None:
            if restart == "exit_on_failure":
                self.cannot((*keys, "restart"))  # corral never stops the others for one exit
            elif restart not in _RESTART:
                choices = ", ".join([*_RESTART, "exit_on_failure"])
                self.fail(
                    (*keys, "restart"), f"unknown restart policy {restart!r}", f"one of: {choices}"
                )
            else:
                table["restart"] = _RESTART[str(restart)]
                self.note(("services", name, "restart"), (*keys, "restart"))
        limit = value.get("max_restarts")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                self.fail((*keys, "max_restarts"), f"expected a whole number, got {limit!r}")
            if limit > 0:  # 0 means no limit in process-compose
                table["restart_limit"] = limit + 1  # corral counts exits, the first included
                table["restart_window"] = _WHOLE_DAY
                self.note(("services", name, "restart_limit"), (*keys, "max_restarts"))
                self.note(("services", name, "restart_window"), (*keys, "max_restarts"))

    def shutdown(
        self, table: dict[str, object], value: object, keys: tuple[str, ...], name: str
    ) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(keys, "expected a mapping (signal: 15, timeout_seconds: 10)")
        assert isinstance(value, dict)
        for key in value:
            if key not in ("signal", "timeout_seconds"):
                self.cannot((*keys, str(key)))  # command, parent_only
        if "signal" in value:
            table["stop_signal"] = _signal_name(value["signal"])
            self.note(("services", name, "stop_signal"), (*keys, "signal"))
        if "timeout_seconds" in value:
            table["stop_timeout"] = value["timeout_seconds"]
            self.note(("services", name, "stop_timeout"), (*keys, "timeout_seconds"))

    def replica_count(self, settings: dict, keys: tuple[str, ...]) -> int:  # type: ignore[type-arg]
        count = settings.get("replicas", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self.fail((*keys, "replicas"), f"expected a whole number of at least 1, got {count!r}")
        return int(count)

    def dependencies(self, name: str, settings: dict) -> None:  # type: ignore[type-arg]
        keys = ("processes", name, "depends_on")
        value = settings.get("depends_on")
        if value is None:
            return
        if isinstance(value, list):  # the short form some files use
            value = {str(item): {} for item in value}
        if not isinstance(value, dict):
            self.fail(keys, "expected a mapping of process names to {condition: ...}")
        assert isinstance(value, dict)
        targets: list[str] = []
        for dependency, spec in value.items():
            condition = (
                (spec or {}).get("condition", "process_started")
                if isinstance(spec, dict | type(None))
                else None
            )
            if condition not in CONDITIONS:
                self.fail(
                    (*keys, str(dependency)),
                    f"unknown condition {condition!r}",
                    f"one of: {', '.join(CONDITIONS)}",
                )
            if condition in _COMPLETION:
                self.completion(str(dependency), (*keys, str(dependency), "condition"), condition)
            targets.extend(self.replicas.get(str(dependency), [str(dependency)]))
        for service in self.replicas[name]:
            self.services[service]["depends_on"] = targets
            self.note(("services", service, "depends_on"), keys)

    def completion(self, dependency: str, keys: tuple[str, ...], condition: str) -> None:
        """Waiting for a process to finish: the dependency becomes a oneshot service, done when
        it exits 0. ``process_completed`` also accepts a failed exit, which corral does not (a
        oneshot's non-zero exit fails the start): named in the warning."""
        if condition == "process_completed":
            self.cannot(keys)
        for service in self.replicas.get(dependency, [dependency]):
            table = self.services.get(service)
            if table is None:
                continue  # an unknown name: the loader's dependency check reports it
            table["oneshot"] = True
            self.note(("services", service, "oneshot"), keys)
            # A process that runs to completion is done when it exits 0: a readiness probe or
            # restarting it always cannot apply (corral would refuse them on a oneshot).
            origin = ("processes", dependency)
            if table.pop("ready", None) is not None:
                probe = self.source.names.get(("services", service, "ready"), "readiness_probe")
                self.source.warnings.append(probe)
            if table.get("restart") == "always":
                del table["restart"]
                self.cannot((*origin, "availability", "restart"))


def _literal_pattern(text: str) -> str:
    """A regex matching ``text`` as written (spaces left readable, unlike ``re.escape``)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _signal_name(value: object) -> object:
    """``2`` -> ``"SIGINT"``: process-compose writes numbers, corral's readers prefer names."""
    import signal

    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value).name
        except ValueError:
            return value  # the validator says it is not a signal
    return value


def _extension(key: object) -> bool:
    """``x-...`` keys hold YAML anchors for reuse, as in docker compose: ignored by design."""
    return isinstance(key, str) and key.startswith("x-")


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)
