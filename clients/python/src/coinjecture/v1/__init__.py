"""Generated gRPC stubs of ``proto/coinjecture/v1/*.proto`` (package ``coinjecture.v1``).

The ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` modules beside this file are written by
``clients/python/gen.sh`` (grpcio-tools, pinned there) and committed; do not edit them.
``gen.sh --check`` fails when they are stale. This file is not generated.
"""
