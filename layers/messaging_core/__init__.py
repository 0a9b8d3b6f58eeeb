"""Shared core of the E-Santé messaging service: rules, ports and adapters used by both tiers."""

import gc

# Cold start (#19): what was loaded before the core (the web framework, pydantic, the runtime's
# own modules) stays for the life of the process. Frozen, the cyclic collector stops walking it
# on each full collection while the core and the app load: a REST function's import no longer
# pays a full collection of the framework's objects (~70 ms, bench/RESULTS-connections.md,
# "Cold start after lazy imports"). The socket tier freezes again once started (lifecycle.py).
gc.freeze()
