# Shared helpers for the scripts that install the real third-party tools the checks use.
# Source it; do not run it. Tools are cached under $TOOLS (default ~/.cache/node-telemetry-tools).
set -euo pipefail
TOOLS=${TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/node-telemetry-tools}
mkdir -p "$TOOLS"

# apt options for a private index of another Debian suite (sid): downloads .deb files only,
# never touches the system's sources or dpkg state.
suite_opts() {
  local s=$1 a=$TOOLS/apt-$1
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/etc"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$s" > "$a/etc/$s.sources"
  echo "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$a/etc -o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache -o Dir::State::status=/dev/null -o Debug::NoLocking=1"
}

suite_update() {   # suite_update sid
  local opts; opts=$(suite_opts "$1")
  ls "$TOOLS/apt-$1/lists/"*Packages* >/dev/null 2>&1 || apt-get $opts update -qq
}

suite_extract() {  # suite_extract sid DESTDIR package...
  local s=$1 dest=$2; shift 2
  local opts; opts=$(suite_opts "$s")
  mkdir -p "$dest/debs"
  (cd "$dest/debs" && apt-get $opts download "$@" 2>&1 | grep -v -e unsandboxed -e '^Get:' || true)
  for d in "$dest"/debs/*.deb; do dpkg-deb -x "$d" "$dest/root"; done
}

go_build() {       # go_build OUT SRC_DIR package... : an offline Go build (GOPATH mode) of the
  # program in SRC_DIR against Debian sid's Go toolchain and the source packages named (with
  # their dependency closure); the toolchain and sources are removed afterwards.
  local out=$1 src=$2; shift 2
  local b=$out.build opts goroot
  mkdir -p "$(dirname "$out")"
  opts=$(suite_opts sid)
  apt-cache $opts depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "$@" golang-go 2>/dev/null \
    | grep -E '^golang-' | sort -u > "$b.closure"
  suite_extract sid "$b" $(cat "$b.closure")
  goroot=$(ls -d "$b"/root/usr/lib/go-1.* | sort -V | tail -1)
  mkdir -p "$b/gopath/src/localbuild/$(basename "$src")"
  cp "$src"/*.go "$b/gopath/src/localbuild/$(basename "$src")/"
  ( cd "$b/gopath/src/localbuild/$(basename "$src")" &&
    env GOROOT="$goroot" PATH="$goroot/bin:$PATH" GOPATH="$b/gopath:$b/root/usr/share/gocode" \
        GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$b/gocache" \
        go build -trimpath -o "$out" . )
  rm -rf "$b" "$b.closure"
}

ensure_venv() {    # ensure_venv package... : a venv under $TOOLS/venv with these packages
  local venv=$TOOLS/venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
}
