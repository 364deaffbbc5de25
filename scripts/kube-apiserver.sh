#!/usr/bin/env bash
# Build a real kube-apiserver once (Debian bookworm's `kubernetes` source, 1.20.2) and install etcd,
# so the tests can run the connector against a real API server beside the fake (tests/fakes/kube_real.py).
#
# Prints the binary's path on stdout. Safe to re-run: when the cached binary and etcd are present it
# returns at once. The first run costs ~1 min of apt (golang-go, etcd-server, source package, ~400 MB)
# and ~4-5 min of `go build` on 2 idle cores (1.8 GB of memory); the binary (~110 MB) is cached in
# ${XDG_CACHE_HOME:-~/.cache}/aci-connector/, outside the checkout, and the build tree is deleted.
#
# Two fixes make the 2021 tree build with Debian's Go 1.19 in GOPATH mode:
#   - pkg/generated/openapi/zz_generated.openapi.go is not in the tarball: build the vendored
#     openapi-gen and run it over the packages tagged +k8s:openapi-gen=, as
#     build/root/Makefile.generated_files does;
#   - the vendored github.com/modern-go/reflect2 1.0.1 panics under Go >= 1.18 on the first request:
#     replace it with Debian's golang-github-modern-go-reflect2-dev (1.0.2).
# On failure the reason is written next to the binary (kube-apiserver-<version>.failed) so the tests
# can skip with it; the next run tries again.
set -euo pipefail

VERSION=1.20.2
CACHE="${ACI_CONNECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aci-connector}"
BINARY="$CACHE/kube-apiserver-$VERSION"
FAILED="$BINARY.failed"
PACKAGES=(golang-go golang-github-modern-go-reflect2-dev etcd-server dpkg-dev)
SOURCES_ENTRY=/etc/apt/sources.list.d/aci-connector-bookworm-src.sources

log() { echo "kube-apiserver.sh: $*" >&2; }
fail() {
  log "$1"
  mkdir -p "$CACHE" && echo "$1" >"$FAILED"
  exit 1
}

ready() { [ -x "$BINARY" ] && command -v etcd >/dev/null 2>&1; }

if ready; then
  echo "$BINARY"
  exit 0
fi

mkdir -p "$CACHE"
# One build at a time on this machine (several checkouts share the cache).
exec 9>"$CACHE/.build.lock"
flock 9
if ready; then
  echo "$BINARY"
  exit 0
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    fail "needs root (or password-less sudo) to apt-get install ${PACKAGES[*]}"
  fi
}

apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q "$@"; }

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
need_source=false
[ -x "$BINARY" ] || need_source=true
if $need_source && ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Version: .*really1\.20\.2'; then
  log "adding a deb-src entry for bookworm main ($SOURCES_ENTRY)"
  printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
    as_root tee "$SOURCES_ENTRY" >/dev/null
  apt_get update >&2 || fail "apt-get update failed"
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt_get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt_get update >&2 && apt_get install -y --no-install-recommends "${missing[@]}" >&2; } ||
    fail "apt-get install ${missing[*]} failed"
fi
command -v etcd >/dev/null 2>&1 || fail "etcd not on PATH after installing etcd-server"
if [ -x "$BINARY" ]; then
  rm -f "$FAILED"
  echo "$BINARY"
  exit 0
fi

REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$REFLECT2/reflect2.go" ] || fail "$REFLECT2 missing (golang-github-modern-go-reflect2-dev)"

BUILD="$CACHE/build-$VERSION"
rm -rf "$BUILD"
mkdir -p "$BUILD"
cd "$BUILD"
log "apt-get source kubernetes (into $BUILD)"
apt-get -q source kubernetes >&2 || fail "apt-get source kubernetes failed"
TREE=$(find "$BUILD" -maxdepth 1 -type d -name 'kubernetes-*really1.20.2' | head -n 1)
[ -n "$TREE" ] || fail "apt-get source kubernetes did not give the 1.20.2 tree"

export GOPATH="$BUILD/gopath" GO111MODULE=off GOCACHE="$BUILD/go-cache" GOFLAGS=
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$TREE" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

log "replacing vendored reflect2 1.0.1 with Debian's 1.0.2"
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$REFLECT2" vendor/github.com/modern-go/reflect2

log "building openapi-gen and generating pkg/generated/openapi/zz_generated.openapi.go"
go build -o "$BUILD/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen >&2 || fail "go build openapi-gen failed"
# The package list of Makefile.generated_files: every Go dir (staging named as vendor/) with a
# +k8s:openapi-gen= tag in a top-level file, minus code-generator and sample-apiserver.
openapi_dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 |
  { xargs -0 grep -l '^// *+k8s:' || true; } | { xargs grep -l '+k8s:openapi-gen=' || true; } | xargs -r -n1 dirname |
  sed -e 's|^\./||' -e 's|^staging/src|vendor|' |
  { grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' || true; } |
  LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
[ -n "$openapi_dirs" ] || fail "no +k8s:openapi-gen= packages found"
"$BUILD/openapi-gen" --logtostderr -i "$openapi_dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
  -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
  -r "$BUILD/api-violations.report" >&2 || fail "openapi-gen failed"
[ -s pkg/generated/openapi/zz_generated.openapi.go ] || fail "openapi-gen wrote no zz_generated.openapi.go"

log "go build ./cmd/kube-apiserver (about 4 minutes on 2 idle cores)"
# As hack/lib/version.sh: /version is served from component-base, clients read client-go's copy.
commit=$(grep -o -m1 '[0-9a-f]\{40\}' staging/src/k8s.io/component-base/version/base.go || true)
ldflags="-s -w"
for package in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $package.gitVersion=v$VERSION -X $package.gitMajor=1 -X $package.gitMinor=20"
  ldflags="$ldflags -X $package.gitCommit=$commit -X $package.gitTreeState=clean"
  ldflags="$ldflags -X $package.buildDate=2021-01-13T13:20:00Z"
done
go build -ldflags "$ldflags" -o "$BINARY.tmp" ./cmd/kube-apiserver >&2 || fail "go build ./cmd/kube-apiserver failed"
"$BINARY.tmp" --version >&2 || fail "the built kube-apiserver does not run"
mv "$BINARY.tmp" "$BINARY"
rm -f "$FAILED"
cd "$CACHE"
rm -rf "$BUILD"
log "built $BINARY"
echo "$BINARY"
