"""`sam`, with every container it creates on the host network, talking over loopback only.

Test tooling for scripts/sam-local.sh, not part of the product. The CI machine's dockerd
runs with `--bridge=none --iptables=false`: no bridge network exists, so a container can
reach DynamoDB Local and the local Secrets Manager on the host's loopback only if it shares
the host's network namespace. SAM 1.170 ignores `--docker-network host` for the
containers it creates (aws-sam-cli#4236): it still publishes the emulator's port 8080 on a
host port it picked and calls that port. So, at the one place SAM creates containers,
this launcher drops the port publishing, asks for the host network, and tells the
Runtime Interface Emulator to listen where SAM will call it (127.0.0.1:<that port>) and
to serve the Runtime API on a free loopback port of its own (the default, 9001, would
clash between two containers on one network namespace).

Usage: python sam_on_host_network.py <sam arguments>   (with the venv's python)
"""

import socket
import sys

import docker.models.containers
from samcli.cli.main import cli

RIE = "/var/rapid/aws-lambda-rie"
RIE_PORT_IN_CONTAINER = "8080"

_create = docker.models.containers.ContainerCollection.create


def _free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _create_on_host_network(self, image, command=None, **kwargs):
    ports = kwargs.pop("ports", None) or {}
    kwargs["network_mode"] = "host"
    entrypoint = list(kwargs.get("entrypoint") or [])
    published = ports.get(RIE_PORT_IN_CONTAINER)
    if entrypoint[:1] == [RIE] and published:
        _, sam_port = published
        entrypoint += [
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{sam_port}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_loopback_port()}",
        ]
        kwargs["entrypoint"] = entrypoint
    return _create(self, image, command, **kwargs)


docker.models.containers.ContainerCollection.create = _create_on_host_network

if __name__ == "__main__":
    sys.argv[0] = "sam"
    sys.exit(cli())
