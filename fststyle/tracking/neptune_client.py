"""The `neptune` client (1.x API) without Lightning: the run's mode, the server address in a
token, the client's data folder, and uploads to a finished run. See
`fststyle.tracking.neptune_logger` for the logger and the tracking conventions."""

import base64
import json
import os
from pathlib import Path

from fststyle.tracking.run_folder import say
from fststyle.tracking.server_probe import PROBE_TIMEOUT_S, server_answers

MODES = ("async", "sync", "offline", "debug")  # read-only cannot record a run
STOP_TIMEOUT_S = 60.0  # at the end, wait this long for unsent data; the rest stays for sync
SYNC = 'python -c "from neptune.cli.commands import sync; sync()"'  # = `neptune sync`, see above


def resolve_mode(mode: str | None, project: str | None) -> str:
    """The argument, else NEPTUNE_MODE, else async with a token and a project, else offline."""
    mode = mode or os.environ.get("NEPTUNE_MODE")
    has_token = bool(os.environ.get("NEPTUNE_API_TOKEN"))
    if mode is None:
        return "async" if has_token and project else "offline"
    if mode not in MODES:
        raise ValueError(f"--neptune_mode (or NEPTUNE_MODE) must be one of {', '.join(MODES)}, "
                         f"got {mode!r}")
    missing = [n for n, ok in [("NEPTUNE_API_TOKEN", has_token), ("NEPTUNE_PROJECT", project)]
               if not ok]
    if mode in ("async", "sync") and missing:
        raise ValueError(f"--neptune_mode {mode} needs a Neptune server: set "
                         f"{' and '.join(missing)} (or --neptune_project), or use offline")
    return mode


def api_url(token: str) -> str:
    """The server address in a Neptune API token (base64 JSON): `api_url`, else `api_address`,
    as the client picks it (neptune.internal.backends.hosted_client)."""
    try:
        fields = json.loads(base64.b64decode(token.strip().encode()).decode())
        return fields.get("api_url") or fields["api_address"]
    except (ValueError, KeyError, AttributeError) as e:
        raise ValueError("NEPTUNE_API_TOKEN is not a Neptune API token "
                         "(base64 JSON with an api_address)") from e


def upload_copy(run, path: Path, name: str) -> None:
    """Upload the file's bytes as artifacts/<name>. A path upload would only reference the
    file, so an offline run synced later would miss a moved or rewritten file."""
    from neptune.types import File

    path = Path(path)
    with open(path, "rb") as f:  # the client copies the stream into its data folder now
        run[f"artifacts/{name}"].upload(File.from_stream(f, extension=path.suffix[1:] or "bin"))


def upload_to_run(info: dict, path: Path, name: str) -> bool:
    """Reopen a finished server run (its neptune.json `info`) and upload a copy of `path`."""
    import neptune

    where = f"{path.name} is only in the local record ({path})"
    if not os.environ.get("NEPTUNE_API_TOKEN"):
        say(f"neptune: NEPTUNE_API_TOKEN is not set, so {where}")
        return False
    url = api_url(os.environ["NEPTUNE_API_TOKEN"])
    if not server_answers(url):
        say(f"neptune: no working server at {url} within {PROBE_TIMEOUT_S:g} s, so {where}")
        return False
    previous = set_data_dir(Path(info["data_dir"]))
    try:
        run = neptune.init_run(with_id=info["id"], project=info["project"], mode="async",
                               capture_stdout=False, capture_stderr=False,
                               capture_hardware_metrics=False, git_ref=False)
        upload_copy(run, path, name)
        run.stop(seconds=STOP_TIMEOUT_S)
    except Exception as e:  # the local copy exists; say why the server has none
        say(f"neptune: could not upload to run {info['id']} ({e}), so {where}")
        return False
    finally:
        set_data_dir(previous)
    return True


def set_data_dir(path: Path | None) -> Path | None:
    """Point the client's data folder (NEPTUNE_DATA_DIRECTORY) at `path` (None: unset it);
    return the previous one. The client reads it as each run starts."""
    previous = os.environ.pop("NEPTUNE_DATA_DIRECTORY", None)
    if path is not None:
        os.environ["NEPTUNE_DATA_DIRECTORY"] = str(path)
    return None if previous is None else Path(previous)
