"""The spec-hash tag detects spec changes without being an offline oracle for secret values (issue 14, point 9)."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from shared import tags


def _body(secret: str) -> dict:
    return {
        "location": "westeurope",
        "tags": {tags.TAG_OWNER: tags.OWNER_VALUE},
        "properties": {
            "osType": "Linux",
            "containers": [
                {
                    "name": "app",
                    "properties": {
                        "image": "nginx:1.27",
                        "environmentVariables": [
                            {"name": "PLAIN", "value": "1"},
                            {"name": "PW", "secureValue": secret},
                        ],
                    },
                }
            ],
            "imageRegistryCredentials": [{"server": "r.example", "username": "u", "password": secret}],
            "volumes": [
                {"name": "files", "secret": {"token": secret}},
                {
                    "name": "share",
                    "azureFile": {"shareName": "s", "storageAccountName": "a", "storageAccountKey": secret},
                },
            ],
            "diagnostics": {"logAnalytics": {"workspaceId": "w", "workspaceKey": secret}},
        },
    }


@given(st.text(max_size=40), st.text(max_size=40))
def test_the_hash_does_not_depend_on_secret_values(first, second):
    assert tags.spec_hash(_body(first)) == tags.spec_hash(_body(second))


def test_a_guess_of_the_secret_cannot_be_checked_against_the_tag():
    tagged = tags.with_spec_hash(_body("hunter2"))
    value = tagged["tags"][tags.SPEC_HASH_TAG]
    assert all(tags.spec_hash(_body(guess)) == value for guess in ("hunter2", "password", "123456"))
    assert "hunter2" not in repr(tags.redact(_body("hunter2")))


def test_a_rotated_secret_still_changes_the_hash_through_its_version():
    secret = {"kind": "Secret", "metadata": {"name": "db", "uid": "u1", "resourceVersion": "10"}, "data": {}}
    rotated = copy.deepcopy(secret)
    rotated["metadata"]["resourceVersion"] = "11"
    before = tags.spec_hash(_body("a"), tags.references_version({"db": secret}))
    after = tags.spec_hash(_body("b"), tags.references_version({"db": rotated}))
    assert before != after
    config_map = {"metadata": {"name": "db", "uid": "u2", "resourceVersion": "10"}}
    assert tags.references_version({"db": secret}) != tags.references_version(config_maps={"db": config_map})


def test_plain_fields_still_change_the_hash():
    changed = _body("s")
    changed["properties"]["containers"][0]["properties"]["image"] = "nginx:1.28"
    renamed = _body("s")
    renamed["properties"]["volumes"][0]["secret"] = {"other": "s"}
    assert len({tags.spec_hash(_body("s")), tags.spec_hash(changed), tags.spec_hash(renamed)}) == 3
