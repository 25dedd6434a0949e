"""A gateway in its own process whose index is slow (a database under load): run by
`test_gateway_crash.py`, killed with SIGKILL while answered instances wait for it.

    python -m tests.integration.gateway.slow_index_gateway DATABASE_URL STORAGE_DIR
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from garde.bootstrap import sql_instance_index
from garde.config.model import GatewaySettings
from garde.dicom_gateway.scp import Gateway
from tests.integration.gateway.conftest import SECRET, SITES

DELAY_S = 30.0  # each batch waits this long before it is indexed


class SlowIndex:
    """The SQL index, each batch held back (what was answered stays unindexed)."""

    def __init__(self, url: str) -> None:
        self._index = sql_instance_index(url)

    def record_many(self, instances):
        time.sleep(DELAY_S)
        return self._index.record_many(instances)

    def __getattr__(self, name: str):
        return getattr(self._index, name)


def main() -> None:
    url, storage = sys.argv[1], Path(sys.argv[2])
    settings = GatewaySettings(port=0, storage_dir=storage, acse_timeout_s=5.0)
    gateway = Gateway(settings, SITES, SlowIndex(url), patient_key_secret=SECRET)
    gateway.start()
    print(gateway.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
