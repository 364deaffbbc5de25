"""Index function_app.py with the real Python worker (azure-functions-runtime), offline.

Run by Python 3.13 from .venv313 with the project root as the working directory.
It drives the worker's own WorkerInitRequest and FunctionsMetadataRequest
handlers, exactly as the Functions host would over gRPC, with a stand-in for
the host's protobuf classes that records their fields. Prints one JSON object:
{"functions": [{"name", "bindings": [raw binding JSON, ...]}, ...]} and exits
0, or prints the worker's failure (the error the host would report) and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from types import SimpleNamespace
from typing import Any


class _Proto:
    """A protobuf message stand-in: keeps the keyword fields it was built with."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def _message(name: str, **constants: int) -> type:
    return type(name, (_Proto,), constants)


PROTOS = SimpleNamespace(
    # Enum values as in the host's FunctionRpc.proto.
    BindingInfo=_message("BindingInfo", in_=0, out=1, inout=2, undefined=0, string=1, binary=2, stream=3),
    StatusResult=_message("StatusResult", Failure=0, Success=1, Cancelled=2),
    RpcException=_message("RpcException"),
    RpcFunctionMetadata=_message("RpcFunctionMetadata"),
    RpcRetryOptions=_message("RpcRetryOptions"),
    WorkerMetadata=_message("WorkerMetadata"),
    WorkerInitResponse=_message("WorkerInitResponse"),
    FunctionMetadataResponse=_message("FunctionMetadataResponse"),
    NullableDouble=_message("NullableDouble"),
)


async def index(app_dir: str) -> dict[str, Any]:
    from azure_functions_runtime import handle_event

    init_request = SimpleNamespace(
        request=SimpleNamespace(worker_init_request=SimpleNamespace(capabilities={}, function_app_directory=app_dir)),
        properties={"host": "127.0.0.1", "protos": PROTOS},
    )
    init = await handle_event.worker_init_request(init_request)
    if init.result.status != PROTOS.StatusResult.Success:
        return {"error": init.result.exception.message, "stack": init.result.exception.stack_trace}
    metadata = await handle_event.functions_metadata_request(SimpleNamespace(properties={}))
    functions = []
    for function in metadata.function_metadata_results or []:
        functions.append(
            {
                "name": function.name,
                "script_file": function.script_file,
                "bindings": [json.loads(raw) for raw in function.raw_bindings],
                "binding_directions": {name: info.direction for name, info in function.bindings.items()},
            }
        )
    return {"functions": functions}


def main() -> int:
    app_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    sys.path.insert(0, app_dir)
    result = asyncio.run(index(app_dir))
    print(json.dumps(result, indent=2, default=str))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
