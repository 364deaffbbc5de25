"""The ACI container group name of a pod.

Scheme: ``<namespace>-<name>-<hash>``, where

* ``<namespace>`` and ``<name>`` are the pod's, lowercased, every run of characters
  other than ``[a-z0-9]`` turned into a single ``-`` (pod names may hold dots), and the
  joined ``<namespace>-<name>`` cut to 52 characters so the whole name fits ACI's 63;
* ``<hash>`` is the first 10 hex digits of SHA-256 over the pod uid, or, for a standalone
  manifest without a uid, over ``namespace + "\\0" + name``.

Why: ACI names allow only lowercase letters, digits and single hyphens, start and end with
a letter or digit, 1-63 characters. The readable part lets an operator find the group of a
pod in the portal, but it is ambiguous (namespace ``a-b`` / pod ``c`` and namespace ``a`` /
pod ``b-c`` both read ``a-b-c``) and may be cut, so uniqueness comes from the hash,
which is over the uid (one group per pod incarnation: a pod deleted and recreated with the
same name gets a new group) or over the unambiguous ``namespace\\0name`` pair. The name is a
pure function of the pod, so every worker and the reconciler agree on it without state.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

MAX_LENGTH = 63
HASH_LENGTH = 10
_READABLE_LENGTH = MAX_LENGTH - HASH_LENGTH - 1
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
VALID_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$")
"""ACI's rule: 1-63 of [a-z0-9-], starting and ending with a letter or digit, no '--'."""


def _slug(text: str) -> str:
    return _NOT_ALNUM.sub("-", text.lower()).strip("-")


def name_hash(pod: Mapping[str, Any]) -> str:
    """The uniqueness part of the name: from the uid, else from namespace and name."""
    metadata = pod.get("metadata") or {}
    uid = metadata.get("uid")
    namespaced = f"{metadata.get('namespace') or 'default'}\0{metadata.get('name') or ''}"
    key = f"uid:{uid}" if uid else namespaced
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def container_group_name(pod: dict) -> str:
    """Deterministic, valid ACI name for the pod; different pods never share one."""
    metadata = pod.get("metadata") or {}
    namespace = _slug(str(metadata.get("namespace") or "default"))
    name = _slug(str(metadata.get("name") or metadata.get("generateName") or "pod"))
    readable = "-".join(part for part in (namespace, name) if part)[:_READABLE_LENGTH].strip("-")
    readable = re.sub(r"-{2,}", "-", readable)
    digest = name_hash(pod)
    return f"{readable}-{digest}" if readable else f"pod-{digest}"


def is_valid_group_name(name: str) -> bool:
    return bool(VALID_NAME.match(name))
