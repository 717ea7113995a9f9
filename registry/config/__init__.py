"""hth.json, on the ground floor: the section models (`sections`, `docker_registry`), each
storage driver's own keys (`drivers`), the password policy, loading and discovery
(`loading`), the generated reference (`reference`). This module is the package's public
face: everything above imports the settings from here."""

from registry.config.docker_registry import (
    DockerRegistrySettings,
    GCSettings,
    UploadPurgingSettings,
)
from registry.config.errors import ConfigError
from registry.config.loading import (
    discover_config_path,
    load_settings,
    parse_settings,
    read_settings_file,
    redacted,
    same_storage,
    shared_document,
    with_shared,
)
from registry.config.sections import LoggingSettings, Settings

__all__ = [
    "ConfigError",
    "DockerRegistrySettings",
    "GCSettings",
    "LoggingSettings",
    "Settings",
    "UploadPurgingSettings",
    "discover_config_path",
    "load_settings",
    "parse_settings",
    "read_settings_file",
    "redacted",
    "same_storage",
    "shared_document",
    "with_shared",
]
