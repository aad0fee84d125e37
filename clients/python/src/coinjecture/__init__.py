"""COINjecture Python client.

- :mod:`coinjecture.reference`: a pure-Python implementation of the chain's wire rules, written
  from ``golden/README.md`` (the normative specification) and checked against every golden vector.
- :mod:`coinjecture.v1`: the generated gRPC stubs of ``proto/coinjecture/v1`` (``gen.sh``).
- :mod:`coinjecture.client`: typed ``CryptoCoreClient`` and ``PublicApiClient`` over those stubs,
  with conversions between reference types and protobuf messages.
- :mod:`coinjecture.shadow`: shadow mode (``python -m coinjecture.shadow --node host:port``).
- :mod:`coinjecture.consensus`: the Tendermint engine (sans-I/O), a port of the Rust one.
- :mod:`coinjecture.validator`: a Network B validator, the consensus service of a split node
  (``python -m coinjecture.validator --config FILE``).
"""

from . import reference

__all__ = ["reference"]
__version__ = "0.1.0"
