"""A bounded probe of a tracker's server (Neptune's API address, MLflow's /health page), so
that a run whose server is down logs locally at once instead of stalling while the client
retries. Without Lightning."""

import ssl
import threading
import urllib.error
import urllib.request

PROBE_TIMEOUT_S = 5.0  # a server silent this long is taken as down: the run logs locally


def server_answers(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a server answers HTTP at `url` within `timeout` s. A 4xx status or a TLS
    complaint counts as an answer; 5xx does not (a proxy whose server is down says 502 or 503,
    and the client would retry those for 60 s). In a thread, so slow DNS is bounded too."""
    answered = []

    def probe() -> None:
        try:
            urllib.request.urlopen(url, timeout=timeout).close()
            answered.append(True)
        except urllib.error.HTTPError as e:
            answered.append(e.code < 500)
        except (urllib.error.URLError, OSError, ValueError) as e:
            answered.append(isinstance(getattr(e, "reason", e), ssl.SSLError))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(answered and answered[0])
