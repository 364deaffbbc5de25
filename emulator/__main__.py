"""`python -m emulator --port 0`: prints the base URL, then `ca=<path of the CA certificate>`."""

from emulator.server import main

main()
