"""Typed settings of every storage driver: the keys of hth.json's storage_settings.

Kept apart from the drivers so that validating a configuration never imports a cloud SDK.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from registry.durations import Duration


class DriverSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesystemSettings(DriverSettings):
    rootdirectory: str = Field(min_length=1)


class CloudSettings(DriverSettings):
    # Blob GETs answer 307 to a signed URL of the backend unless this is off.
    redirect: bool = True
    redirect_expiry: Duration = timedelta(minutes=20)


class S3Settings(CloudSettings):
    accesskey: str
    secretkey: SecretStr
    bucket: str = Field(min_length=1)
    region: str = Field(min_length=1)
    regionendpoint: str | None = None
    forcepathstyle: bool = False
    secure: bool = True
    rootdirectory: str = ""
    chunksize: int = Field(default=10 * 1024 * 1024, ge=5 * 1024 * 1024)
    encrypt: bool = False
    storageclass: str = "STANDARD"


class AzureSettings(CloudSettings):
    accountname: str = Field(min_length=1)
    accountkey: SecretStr
    container: str = Field(min_length=1)
    realm: str = "core.windows.net"
    serviceurl: str | None = None
    rootdirectory: str = ""


class SwiftSettings(CloudSettings):
    authurl: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: SecretStr
    container: str = Field(min_length=1)
    region: str = ""
    tenant: str | None = None
    domain: str | None = None
    authversion: int = 0
    tempurlcontainerkey: bool = False
    tempurlmethods: list[str] = Field(default_factory=lambda: ["GET"])
    chunksize: int = Field(default=20 * 1024 * 1024, ge=1)
    prefix: str = ""


class OSSSettings(CloudSettings):
    accesskeyid: str = Field(min_length=1)
    accesskeysecret: SecretStr
    bucket: str = Field(min_length=1)
    region: str = Field(min_length=1)
    endpoint: str | None = None
    internal: bool = False
    secure: bool = True
    encrypt: bool = False
    chunksize: int = Field(default=10 * 1024 * 1024, ge=100 * 1024)
    rootdirectory: str = ""


class GCSSettings(CloudSettings):
    bucket: str = Field(min_length=1)
    keyfile: str | None = None
    rootdirectory: str = ""
    chunksize: int = Field(default=16 * 1024 * 1024, ge=256 * 1024)
    endpoint: str | None = None


SETTINGS_BY_DRIVER: dict[str, type[DriverSettings]] = {
    "filesystem": FilesystemSettings,
    "s3": S3Settings,
    "azure": AzureSettings,
    "swift": SwiftSettings,
    "oss": OSSSettings,
    "gcs": GCSSettings,
}
