"""`garde serve` imports the stacks its threads use before it starts any thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_serve_imports_what_its_threads_use_before_it_touches_the_runtime():
    # Two threads importing pydicom at once died with importlib's _DeadlockError at a
    # restart (the preview catch-up against build_gateway). In a fresh interpreter: by
    # the time `_serve` first asks the runtime anything (threads start after), every
    # module its threads import on first use is loaded.
    script = textwrap.dedent(
        """
        import sys, threading
        from garde.runtime import server

        class Asked(Exception):
            pass

        class Runtime:
            @property
            def settings(self):
                raise Asked(
                    [m for m in server.THREADS_IMPORT if m not in sys.modules]
                    + [t.name for t in threading.enumerate() if t is not threading.main_thread()]
                )

        try:
            server._serve(Runtime(), threading.Event())
        except Asked as asked:
            print(asked.args[0])
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.strip() == "[]", run.stdout + run.stderr
