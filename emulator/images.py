"""Default programs of well-known images, for containers that run their image's own entrypoint.

A pod usually sets no command: the image decides what runs. For a handful of images the
walkthroughs use, the emulator prints what the real image prints at start, then runs
until deleted; any other image prints one line saying it is emulated.
"""

from __future__ import annotations

from emulator.program import Step, emulated_line

_KNOWN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mcr.microsoft.com/azuredocs/aci-helloworld", ("listening on port 80",)),
    (
        "microsoft/iis",
        (
            " ",
            "Service 'w3svc' has been stopped",
            " ",
            "Service 'w3svc' started",
        ),
    ),
    ("mcr.microsoft.com/windows/servercore/iis", ("Service 'w3svc' started",)),
    (
        "nginx",
        (
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            "nginx: start worker processes",
        ),
    ),
    ("mcr.microsoft.com/oss/nginx/nginx", ("nginx: start worker processes",)),
)
_EXITS_AT_ONCE = ("busybox", "alpine", "ubuntu", "debian", "mcr.microsoft.com/cbl-mariner/base/core")


def _repository(image: str) -> str:
    """`docker.io/library/nginx:1.25@sha256:...` -> `nginx`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name.lower()


def default_program(image: str) -> tuple[Step, ...]:
    """What the image runs when the pod gives no command."""
    repository = _repository(image)
    for known, lines in _KNOWN:
        if repository == known:
            return (*(Step("out", line + "\n") for line in lines), Step("forever"))
    if repository in _EXITS_AT_ONCE:  # their default command is a shell with no terminal: it exits 0 at once
        return (Step("exit", code=0),)
    return (Step("out", emulated_line(f"image {image}") + "\n"), Step("forever"))
