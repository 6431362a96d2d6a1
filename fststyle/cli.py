"""The one error convention of every `python -m fststyle.<verb>` entry point.

Library code raises (ValueError or FileNotFoundError naming the option or file at fault); the
entry point turns that into one line on stderr, `fststyle.<verb>: error: <message>`, and exit
status 2 (argparse's status for bad usage), never a traceback.
"""

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
USER_ERRORS = (ValueError, FileNotFoundError)  # bad options, unreadable or missing files


def run_cli(verb: str, main: Callable[[list[str] | None], T], argv: list[str] | None = None,
            errors: tuple[type[Exception], ...] = USER_ERRORS) -> T:
    """`main(argv)`; a user error ends the process with one line and exit status 2."""
    try:
        return main(argv)
    except errors as e:
        print(f"fststyle.{verb}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
