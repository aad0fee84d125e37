"""COINjecture Python client.

For now this package holds :mod:`coinjecture.reference`, a pure-Python implementation of the
chain's wire rules written from ``golden/README.md`` (the normative specification) and checked
against every golden vector by ``tests/test_golden.py``. gRPC stubs will come later (extra
``grpc``).
"""

from . import reference

__all__ = ["reference"]
__version__ = "0.1.0"
