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

prom_otlp_build() { # prom_otlp_build OUT : Prometheus 3.5.3 WITH its OTLP receiver, built offline
  # (GOPATH mode) from Debian sid: Debian's patched tree (which drops the OTLP receiver) plus
  # the OTLP parts of the upstream orig tarball (scripts/prometheus-otlp/restore_otlp.py),
  # against Debian's Go packages. ~380 MB download, 3 GB extracted, 4-5 min on 2 cores; the
  # sources and the toolchain are removed afterwards, only the binary is kept.
  local out=$1 here b sa sopts opts bdeps orig goroot src v
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  b=$out.build
  rm -rf "$b"; mkdir -p "$b/src" "$(dirname "$out")"
  opts=$(suite_opts sid)
  sa=$TOOLS/apt-sid-src
  mkdir -p "$sa/lists/partial" "$sa/cache/archives/partial" "$sa/etc"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$sa/etc/sid-src.sources"
  sopts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$sa/etc -o Dir::State::Lists=$sa/lists -o Dir::Cache=$sa/cache -o Dir::State::status=/dev/null -o Debug::NoLocking=1"
  ls "$sa/lists/"*Sources* >/dev/null 2>&1 || apt-get $sopts update -qq
  bdeps=$(apt-cache $sopts showsrc prometheus | sed -n 's/^Build-Depends: //p' | head -1 \
          | sed 's/([^)]*)//g; s/\[[^]]*\]//g' | tr ',|' '\n\n' | tr -d ' ' | grep -E '^golang-' | sort -u)
  [ -n "$bdeps" ] || { echo "no Build-Depends for prometheus in Debian sid's Sources index" >&2; return 1; }
  (cd "$b/src" && apt-get $sopts source --download-only prometheus 2>&1 | grep -v -e unsandboxed -e '404' || true)
  orig=$(ls "$b"/src/prometheus_3.5.3*.orig.tar.* 2>/dev/null | head -1)
  [ -n "$orig" ] || { echo "the prometheus 3.5.3 orig tarball is no longer in Debian sid" >&2; return 1; }
  apt-cache $opts depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $bdeps golang-go golang-opentelemetry-collector-dev \
      golang-github-prometheus-otlptranslator-dev 2>/dev/null \
    | grep -E '^golang-' | grep -vx golang-github-prometheus-prometheus-dev | sort -u > "$b/closure"
  suite_extract sid "$b" $(cat "$b/closure")
  suite_extract sid "$b/debian-tree" golang-github-prometheus-prometheus-dev
  goroot=$(ls -d "$b"/root/usr/lib/go-1.* | sort -V | tail -1)
  src=$b/gopath/src/github.com/prometheus/prometheus
  mkdir -p "$(dirname "$src")" "$b/orig"
  cp -a "$b/debian-tree/root/usr/share/gocode/src/github.com/prometheus/prometheus" "$src"
  tar -xf "$orig" -C "$b/orig"
  python3 "$here/prometheus-otlp/restore_otlp.py" "$src" "$(ls -d "$b"/orig/prometheus-*/ | head -1)"
  v=github.com/prometheus/common/version
  ( cd "$src" &&
    env GOROOT="$goroot" PATH="$goroot/bin:$PATH" GOPATH="$b/gopath:$b/root/usr/share/gocode" \
        GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$b/gocache" \
        nice -n 19 go build -trimpath -o "$out.tmp" \
          -ldflags "-X $v.Version=3.5.3 -X $v.Revision=debian-3.5.3+ds1-6+otlp -X $v.Branch=sid" \
          ./cmd/prometheus )
  mv "$out.tmp" "$out"
  rm -rf "$b"
}
