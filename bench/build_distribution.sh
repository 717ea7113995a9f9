#!/usr/bin/env bash
# Build CNCF Distribution 2.8.2 WITH its azure and gcs drivers, offline from Debian packages,
# into .cache/distribution/registry (Debian's docker-registry leaves both drivers out).
#
# Source: Debian's docker-registry 2.8.2+ds1 source package (fetched with `apt-get source` through
# a private deb-src list, the system's apt config is left alone), its Debian patches minus
# 0003-no-azure, plus bench/distribution_patches/*.patch. Dependencies: Debian's Go packages in
# /usr/share/gocode, built in GOPATH mode. Idempotent: rebuilds only when this script or a patch
# changes. Prints the binary's path on success; on failure, one line naming the step and the log.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$REPO/.cache/distribution"
BINARY="$OUT/registry"
LOG="$OUT/build.log"
PATCHES="$REPO/bench/distribution_patches"
VERSION="2.8.2+ds1-1"
ORIG_SHA256="65137484d75412af7a13104a31eed8ed69e97c616bb60cb9f4ed2a9a7cc1f8fb"
IMPORT_PATH="github.com/docker/distribution"
# Build-Depends of docker-registry 2.8.2+ds1-1, plus what the azure and gcs drivers import.
APT_PACKAGES=(
    golang-go ca-certificates xz-utils patch
    golang-github-aws-aws-sdk-go-dev golang-github-bshuster-repo-logrus-logstash-hook-dev
    golang-github-bugsnag-bugsnag-go-dev golang-github-docker-go-metrics-dev
    golang-github-docker-libtrust-dev golang-github-garyburd-redigo-dev
    golang-github-gorilla-handlers-dev golang-github-gorilla-mux-dev
    golang-github-mitchellh-mapstructure-dev golang-github-ncw-swift-dev
    golang-github-opencontainers-go-digest-dev golang-github-opencontainers-image-spec-dev
    golang-github-shopify-logrus-bugsnag-dev golang-github-sirupsen-logrus-dev
    golang-github-spf13-cobra-dev golang-golang-x-crypto-dev golang-gopkg-yaml.v2-dev
    golang-github-azure-azure-sdk-for-go-dev golang-github-azure-go-autorest-dev
    golang-google-cloud-dev golang-google-api-dev golang-golang-x-oauth2-google-dev
)

STEP="start"
fail() {
    echo "build_distribution: FAILED at step '$STEP' (details: $LOG)" >&2
    exit 1
}
trap fail ERR
mkdir -p "$OUT"
log() { echo "build_distribution: $*" >&2; }

STAMP=$(cat "${BASH_SOURCE[0]}" "$PATCHES"/*.patch | sha256sum | cut -d' ' -f1)
if [[ -x "$BINARY" && "$(cat "$OUT/registry.stamp" 2>/dev/null)" == "$STAMP" ]]; then
    echo "$BINARY"
    exit 0
fi

: >"$LOG"
STEP="apt packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "build_distribution: needs root to apt-get install: ${missing[*]}" >&2
        exit 1
    fi
    log "installing ${#missing[@]} apt packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
fi

STEP="apt-get source docker-registry=$VERSION"
SRC="$OUT/src"
ORIG="$SRC/docker-registry_${VERSION%-*}.orig.tar.xz"
if ! echo "$ORIG_SHA256  $ORIG" | sha256sum -c --status 2>/dev/null; then
    log "fetching the docker-registry source package"
    APT_DIR="$OUT/apt"
    mkdir -p "$APT_DIR/sources.d" "$APT_DIR/lists/partial" "$SRC"
    cat >"$APT_DIR/sources.d/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT_DIR/sources.d"
        -o "Dir::State::Lists=$APT_DIR/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
        -o APT::Sandbox::User="$(id -un)")
    apt-get "${APT_OPTS[@]}" update >>"$LOG" 2>&1
    (cd "$SRC" && apt-get "${APT_OPTS[@]}" source --download-only "docker-registry=$VERSION") >>"$LOG" 2>&1
    echo "$ORIG_SHA256  $ORIG" | sha256sum -c --status
fi

STEP="unpack and patch"
WORK="$OUT/gopath/src/$IMPORT_PATH"
rm -rf "$OUT/gopath"
mkdir -p "$WORK"
tar -xJf "$ORIG" -C "$WORK" --strip-components=1
tar -xJf "$SRC/docker-registry_${VERSION}.debian.tar.xz" -C "$WORK"
# Debian's own patches, except the one that drops the azure driver from cmd/registry.
grep -v '^#' "$WORK/debian/patches/series" | grep -v 'no-azure' | while read -r patch; do
    if [[ -n "$patch" ]]; then
        patch -d "$WORK" -p1 --batch <"$WORK/debian/patches/$patch" >>"$LOG" 2>&1
    fi
done
for patch in "$PATCHES"/*.patch; do
    patch -d "$WORK" -p1 --batch <"$patch" >>"$LOG" 2>&1
done
grep -q 'storage/driver/azure"' "$WORK/cmd/registry/main.go"

STEP="go build"
log "compiling (nice -n 19, a few minutes on 2 cores)"
(
    cd "$WORK"
    export GO111MODULE=off GOPATH="$OUT/gopath:/usr/share/gocode" GOCACHE="$OUT/gocache" GOFLAGS=
    nice -n 19 go build -tags include_gcs -trimpath \
        -ldflags "-X $IMPORT_PATH/version.Version=v${VERSION%-*}+hth-azure-gcs" \
        -o "$BINARY.tmp" ./cmd/registry
) >>"$LOG" 2>&1

STEP="check the drivers are linked in"
symbols=$(go tool nm "$BINARY.tmp")
for driver in azure gcs s3-aws swift filesystem; do
    grep -q "registry/storage/driver/$driver\.init\.0" <<<"$symbols"
done
mv "$BINARY.tmp" "$BINARY"
echo "$STAMP" >"$OUT/registry.stamp"
log "built $("$BINARY" --version)"
echo "$BINARY"
