"""The on-disk layout, exactly Distribution's (registry/storage/paths.go), plus our own area.

    /docker/registry/v2/
        blobs/<alg>/<hex[0:2]>/<hex>/data
        repositories/<name>/
            _layers/<alg>/<hex>/link                          blob linked into the repository
            _manifests/revisions/<alg>/<hex>/link             manifest revision
            _manifests/tags/<tag>/current/link                what the tag points at
            _manifests/tags/<tag>/index/<alg>/<hex>/link      every digest the tag has had
            _uploads/<uuid>/data                              upload in progress
            _uploads/<uuid>/startedat                         RFC 3339 start time
            _uploads/<uuid>/hashstates/<alg>/<offset>         resumable hash state
    /hth/v1/                                                  metadata of ours, unseen by
        referrers/<name>/<alg>/<subject-hex>/<alg>/<hex>      Distribution's tools
        deleted/<name>/_deleted                               soft-deleted repository marker
        upload-parts/<token>/<n>                              parts of an unfinished GCS write
        upload-parts/<token>/previous                         its marker as the close before left it
        quarantine/<alg>/<hex>/<time>                         blob data that did not hash to
        quarantine/<alg>/<hex>/<time>.json                    its digest, moved aside by the
                                                              scrub, and what/when (never
                                                              deleted by anything)

Link files hold the digest string. Everything else of ours stays under /hth so that
Distribution's own tools (serve, garbage-collect) still read the tree.
"""

from __future__ import annotations

ROOT = "/docker/registry/v2"
BLOBS = f"{ROOT}/blobs"
REPOSITORIES = f"{ROOT}/repositories"
HTH_ROOT = "/hth/v1"
# Drivers that keep the parts of an unfinished write as objects of their own put them here.
UPLOAD_PARTS = f"{HTH_ROOT}/upload-parts"
QUARANTINE = f"{HTH_ROOT}/quarantine"


def _split(digest: str) -> tuple[str, str]:
    algorithm, _, encoded = digest.partition(":")
    return algorithm, encoded


def blob_dir(digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{BLOBS}/{alg}/{hex_[:2]}/{hex_}"


def blob_data(digest: str) -> str:
    return f"{blob_dir(digest)}/data"


def repository(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def layer_link(name: str, digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{REPOSITORIES}/{name}/_layers/{alg}/{hex_}/link"


def layers_root(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_layers"


def manifests_root(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests"


def revisions_root(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions"


def revision_link(name: str, digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{REPOSITORIES}/{name}/_manifests/revisions/{alg}/{hex_}/link"


def tags_root(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags"


def tag_dir(name: str, tag: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags/{tag}"


def tag_current_link(name: str, tag: str) -> str:
    return f"{tag_dir(name, tag)}/current/link"


def tag_index_link(name: str, tag: str, digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{tag_dir(name, tag)}/index/{alg}/{hex_}/link"


def uploads_root(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads"


def upload_dir(name: str, upload_id: str) -> str:
    return f"{REPOSITORIES}/{name}/_uploads/{upload_id}"


def upload_data(name: str, upload_id: str) -> str:
    return f"{upload_dir(name, upload_id)}/data"


def upload_started_at(name: str, upload_id: str) -> str:
    return f"{upload_dir(name, upload_id)}/startedat"


def upload_hashstate(name: str, upload_id: str, algorithm: str, offset: int) -> str:
    return f"{upload_dir(name, upload_id)}/hashstates/{algorithm}/{offset}"


def upload_hashstates(name: str, upload_id: str, algorithm: str) -> str:
    return f"{upload_dir(name, upload_id)}/hashstates/{algorithm}"


def referrers_dir(name: str, subject: str) -> str:
    alg, hex_ = _split(subject)
    return f"{HTH_ROOT}/referrers/{name}/{alg}/{hex_}"


def referrer_link(name: str, subject: str, digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{referrers_dir(name, subject)}/{alg}/{hex_}"


def referrers_repo_root(name: str) -> str:
    return f"{HTH_ROOT}/referrers/{name}"


def deleted_marker(name: str) -> str:
    # A file under the name's own folder, so that "a" and "a/b" can both be marked.
    return f"{HTH_ROOT}/deleted/{name}/_deleted"


def quarantine_dir(digest: str) -> str:
    alg, hex_ = _split(digest)
    return f"{QUARANTINE}/{alg}/{hex_}"
