"""Pod JSON -> ARM body of an ACI container group; the package's entry points are re-exported here."""

from shared.translate.common import TranslateOptions
from shared.translate.pod import Translation, pod_os, pod_to_container_group, translate_pod

__all__ = ["TranslateOptions", "Translation", "pod_os", "pod_to_container_group", "translate_pod"]
