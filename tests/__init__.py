"""backwatch tests (a package, so helpers import as ``tests.fakes``, ``tests.harness``)."""
