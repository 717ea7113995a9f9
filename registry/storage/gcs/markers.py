"""The GCS upload marker's format: the object a closed write leaves at its path, whose metadata
(Progress) names the parts folder of the write; the driver's delete and the writer read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from registry.layout import UPLOAD_PARTS
from registry.storage.driver import StorageError

if TYPE_CHECKING:
    from google.cloud import storage


MARKER_TYPE = "application/vnd.hth.upload-session"
TOKEN_KEY = "hth-upload-parts"
PIECES_KEY = "hth-upload-pieces"
OFFSET_KEY = "hth-upload-offset"
NEXT_KEY = "hth-upload-next"
PREVIOUS = "previous"  # in the parts folder: the marker as the close before the last left it


def parts_folder(token: str) -> str:
    return f"{UPLOAD_PARTS}/{token}"  # ours, unseen by Distribution; never migrated


def parts_of(blob: storage.Blob) -> str | None:
    """The parts folder a marker object names, None for any other object."""
    if blob.content_type != MARKER_TYPE:
        return None
    token = (blob.metadata or {}).get(TOKEN_KEY)
    return parts_folder(token) if token else None


@dataclass
class Progress:
    """What a write has stored so far: its pieces (parts, or parts composed into one) in file
    order, the bytes in them, and the number the next piece gets."""

    token: str
    pieces: list[int] = field(default_factory=list)
    offset: int = 0
    next: int = 0
    resumed: bool = False  # from a marker: a failed writer may have left parts behind

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], path: str) -> Progress:
        token = metadata.get(TOKEN_KEY)
        if not token:
            message = "upload marker of an older version (no parts); start the upload again"
            raise StorageError(message, driver="gcs", path=path)
        pieces = [int(p) for p in metadata.get(PIECES_KEY, "").split(",") if p]
        offset, next_ = int(metadata.get(OFFSET_KEY, "0")), int(metadata.get(NEXT_KEY, "0"))
        return cls(token, pieces, offset, next_, resumed=True)

    def metadata(self) -> dict[str, str]:
        return {
            TOKEN_KEY: self.token,
            PIECES_KEY: ",".join(map(str, self.pieces)),
            OFFSET_KEY: str(self.offset),
            NEXT_KEY: str(self.next),
        }

    def new_piece(self) -> int:
        self.next += 1
        return self.next - 1
