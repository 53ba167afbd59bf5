"""Writes the BigQuery Storage API messages as a FileDescriptorSet to stdout.

The descriptors are those the PyPI package google-cloud-bigquery-storage ships (built from
Google's published google/cloud/bigquery/storage/v1/*.proto). spate sends Arrow rows only,
so the protobuf-rows member of AppendRowsRequest (ProtoData) is left out, and with it
google/protobuf/descriptor.proto.
"""

import sys

from google.cloud.bigquery_storage_v1 import types
from google.protobuf import descriptor_pb2

ROOTS = [
    types.CreateReadSessionRequest,
    types.ReadRowsRequest,
    types.ReadRowsResponse,
    types.CreateWriteStreamRequest,
    types.AppendRowsRequest,
    types.AppendRowsResponse,
    types.FinalizeWriteStreamRequest,
    types.FinalizeWriteStreamResponse,
    types.BatchCommitWriteStreamsRequest,
    types.BatchCommitWriteStreamsResponse,
]
LEFT_OUT = ("google/protobuf/descriptor.proto",)


def main() -> None:
    seen: set[str] = set()
    files: list[descriptor_pb2.FileDescriptorProto] = []

    def visit(fd) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            visit(dep)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        files.append(proto)

    for root in ROOTS:
        visit(root.pb().DESCRIPTOR.file)
    kept = [f for f in files if f.name not in LEFT_OUT and not f.name.endswith("/protobuf.proto")]
    names = {f.name for f in kept}
    for f in kept:
        deps = [d for d in f.dependency if d in names]
        del f.dependency[:]
        f.dependency.extend(deps)
        for message in f.message_type:
            if message.name != "AppendRowsRequest":
                continue
            for i in reversed(range(len(message.field))):
                if message.field[i].name == "proto_rows":
                    del message.field[i]
            for i in reversed(range(len(message.nested_type))):
                if message.nested_type[i].name == "ProtoData":
                    del message.nested_type[i]
    sys.stdout.buffer.write(descriptor_pb2.FileDescriptorSet(file=kept).SerializeToString())


if __name__ == "__main__":
    main()
