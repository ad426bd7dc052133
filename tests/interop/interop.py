#!/usr/bin/env python3
"""Checks tailledger's gRPC API with Python's official grpcio client: python3 interop.py HOST:PORT

The server is expected to be `tailledger demo` after its story. The stubs generated from proto/
must be importable (tests/interop/run.sh puts them on PYTHONPATH). The script exits non-zero
with a message naming the first thing that is wrong, and prints one line when all is well.
"""
import hashlib
import json
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from tailledger.v1 import ledger_pb2, ledger_pb2_grpc

# The checks of the spec, in the fixed order GetStatus returns them.
CHECK_IDS = [
    "user-identified",
    "offboarded-access-removed",
    "access-control-configured",
    "user-access-valid",
    "integration-healthy",
    "offboarded-leftovers-removed",
    "access-review-actions-done",
    "access-review-current",
]
EXPECTED_SERVICES = {
    "tailledger.v1.LedgerService",
    "tailledger.v1.AdminService",
    "grpc.health.v1.Health",
}
# Every call has a deadline, so a server that hangs fails the test instead of stalling CI.
CALL_TIMEOUT = 30
READY_TIMEOUT = 120


class InteropFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise InteropFailure(message)


def check_health(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    # "" is the server as a whole; the named service is the one clients of the ledger depend on.
    for service in ["", "tailledger.v1.LedgerService"]:
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT)
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        name = service or "the server"
        check(status == "SERVING", f"health of {name} is {status}, not SERVING")


def list_services(channel, protocol):
    # grpcio-reflection only ships the v1alpha messages. The v1 protocol's messages are
    # wire-identical (only the package name differs), so the v1alpha classes serialise a valid
    # v1 request when sent to the v1 method path.
    call = channel.stream_stream(
        f"/grpc.reflection.{protocol}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = list(call(iter([request]), timeout=CALL_TIMEOUT))
    check(len(answers) == 1, f"reflection {protocol}: expected 1 answer, got {len(answers)}")
    answer = answers[0]
    check(
        answer.WhichOneof("message_response") == "list_services_response",
        f"reflection {protocol}: expected a list of services, got {answer}",
    )
    names = {service.name for service in answer.list_services_response.service}
    missing = EXPECTED_SERVICES - names
    check(not missing, f"reflection {protocol}: {sorted(missing)} missing from {sorted(names)}")


def check_status(stub, digest):
    status = stub.GetStatus(ledger_pb2.GetStatusRequest(system="tailscale"), timeout=CALL_TIMEOUT)
    ids = [c.check_id for c in status.checks]
    check(ids == CHECK_IDS, f"GetStatus: check ids {ids}, expected {CHECK_IDS}")
    for c in status.checks:
        state = ledger_pb2.CheckState.Name(c.state)
        # The demo story ends with every check passing; anything else is a regression.
        check(state == "PASSING", f"GetStatus: {c.check_id} is {state}, expected PASSING")
    # Nothing is appended after the story, so the status must be based on the same head.
    check(
        (status.ledger_seq, status.head_hash) == (digest.seq, digest.hash),
        f"GetStatus: based on {status.ledger_seq}:{status.head_hash}, "
        f"the digest is {digest.seq}:{digest.hash}",
    )


def check_stream(stub, digest):
    """Verifies the streamed chain from the bytes the server sent, without trusting the server."""
    request = ledger_pb2.StreamEventsRequest(after_seq=0, follow=False)
    previous = "0" * 64
    count = 0
    for answer in stub.StreamEvents(request, timeout=CALL_TIMEOUT):
        event = answer.event
        count += 1
        check(event.seq == count, f"StreamEvents: expected seq {count}, got {event.seq}")
        hashed = hashlib.sha256(event.canonical_json.encode("utf-8")).hexdigest()
        where = f"StreamEvents seq {event.seq}"
        check(hashed == event.hash, f"{where}: sha256(canonical_json) {hashed} != {event.hash}")
        check(event.prev_hash == previous, f"{where}: prev_hash {event.prev_hash} != {previous}")
        # The envelope fields must be the ones that were hashed, or the checks above prove nothing.
        entry = json.loads(event.canonical_json)
        check(entry["seq"] == event.seq, f"{where}: canonical_json has seq {entry['seq']}")
        check(entry["prev_hash"] == event.prev_hash, f"{where}: canonical_json has other prev_hash")
        previous = event.hash
    check(count > 0, "StreamEvents: no events")
    check(
        (count, previous) == (digest.seq, digest.hash),
        f"StreamEvents: the last event is {count}:{previous}, "
        f"the digest is {digest.seq}:{digest.hash}",
    )
    return count


def main(address):
    with grpc.insecure_channel(address) as channel:
        # Block until the server answers, instead of guessing with a sleep how long it needs.
        try:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT)
        except grpc.FutureTimeoutError:
            raise InteropFailure(f"no gRPC server ready at {address} within {READY_TIMEOUT} s")
        check_health(channel)
        # Each protocol lists itself besides the rest, so only the expected services are compared.
        for protocol in ["v1", "v1alpha"]:
            list_services(channel, protocol)

        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        digest = stub.GetDigest(ledger_pb2.GetDigestRequest(), timeout=CALL_TIMEOUT)
        check(digest.seq > 0, f"GetDigest: seq {digest.seq}, expected > 0")
        check_status(stub, digest)
        count = check_stream(stub, digest)
    print(
        f"interop ok: grpcio {grpc.__version__} against {address}: health SERVING, "
        f"reflection v1 and v1alpha list the services, {len(CHECK_IDS)} checks PASSING, "
        f"{count} streamed events verified up to digest {digest.seq}:{digest.hash}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[0])
    try:
        main(sys.argv[1])
    except InteropFailure as failure:
        sys.exit(f"interop FAILED: {failure}")
    except grpc.RpcError as error:
        sys.exit(f"interop FAILED: an RPC failed: {error.code().name}: {error.details()}")
