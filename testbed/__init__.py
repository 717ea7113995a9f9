"""The test bed: real services and trees for the tests and the benchmarks, never imported by
the product (registry, api, worker, scheduler, cli).

Storage emulators and the OSS-protocol server, a Swift node, Distribution, registry and
platform processes (Redis, workers, beat) with their process control, clients that push and
pull, raw HTTP connections, synthetic registry trees and a two-instance cluster. `tests/` and
`bench/` import it; it imports neither (lint-imports contracts in pyproject.toml). The pytest
fixtures of the emulators live beside them and are loaded as plugins by tests/conftest.py.
"""
