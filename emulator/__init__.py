"""The ACI emulator: Azure Resource Manager for Azure Container Instances, run on your machine.

A product component (not a test helper): `make start` runs it when no
AZURE_SUBSCRIPTION_ID is set, so the connector turns pods into container groups with
no Azure account. It serves the ARM REST API the Azure SDK and `az rest` use for
Microsoft.ContainerInstance at api-version 2023-05-01, over HTTPS with a local CA.
No real containers run. The tests configure the same server (tests/fakes/arm_fixtures.py).
"""
