#!/usr/bin/env bash
# make release-check: a snapshot release (.goreleaser.yaml) into dist/, and
# proof that what it built works: every artefact is there, the checksums
# hold, the archives carry the docs, the linux/amd64 binary runs and reports
# this commit, and the .deb installs (dpkg -i as root, else dpkg -x into a
# temp dir), runs from /usr/bin, brings its completions and man pages, and is
# removed again. Fails on the first problem.
#
# GORELEASER is the goreleaser binary (make builds it from tools/goreleaser).
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER=${GORELEASER:?set GORELEASER to the goreleaser binary}
step() { printf '\n--- %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
fail() { echo "release-check: FAIL: $*" >&2; exit 1; }

step "goreleaser check"
# Deprecated properties make check exit non-zero: no warnings allowed.
"$GORELEASER" check

step "snapshot release (no publishing)"
"$GORELEASER" release --snapshot --clean --skip=publish

step "artefacts"
meta=dist/metadata.json
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$meta")
[ -n "$version" ] || fail "no version in $meta"
commit=$(git rev-parse HEAD)
echo "version $version, commit $commit"
want=(dist/checksums.txt)
for os in linux darwin windows; do
	for arch in amd64 arm64; do
		ext=tar.gz
		[ "$os" = windows ] && ext=zip
		want+=("dist/kpf_${version}_${os}_${arch}.${ext}")
	done
done
want+=(dist/kpf_"${version//-/\~}"_amd64.deb dist/kpf_"${version//-/\~}"_arm64.deb)
want+=(dist/homebrew/Casks/kpf.rb dist/scoop/kpf.json dist/krew/kpf.yaml)
for f in "${want[@]}"; do
	[ -s "$f" ] || fail "missing: $f (dist/: $(ls dist | tr '\n' ' '))"
done
rpms=(dist/kpf-*.x86_64.rpm dist/kpf-*.aarch64.rpm)
for f in "${rpms[@]}"; do [ -s "$f" ] || fail "missing rpm: $f"; done
winget=$(find dist/winget -name 'kpf-dev.kpf*.yaml' | sort)
[ "$(echo "$winget" | wc -l)" -ge 3 ] || fail "winget manifests: $winget"
ls -l "${want[@]}" "${rpms[@]}" $winget | awk '{printf "%10d  %s\n", $5, $NF}'

step "manifests point at the release archives"
grep -q 'binary "kpf"' dist/homebrew/Casks/kpf.rb || fail "cask: no binary stanza"
grep -q 'com.apple.quarantine' dist/homebrew/Casks/kpf.rb || fail "cask: no quarantine hook"
grep -q "kpf_#{version}_darwin_arm64.tar.gz" dist/homebrew/Casks/kpf.rb || fail "cask: no darwin/arm64 archive"
grep -q "version \"$version\"" dist/homebrew/Casks/kpf.rb || fail "cask: not version $version"
grep -q "kpf_${version}_windows_amd64.zip" dist/scoop/kpf.json || fail "scoop: no windows/amd64 archive"
grep -q 'bin: kpf' dist/krew/kpf.yaml || fail "krew: no bin"
for p in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	grep -q "kpf_${version}_${p%/*}_${p#*/}" dist/krew/kpf.yaml || fail "krew: no $p archive"
done
grep -q 'PackageIdentifier: kpf-dev.kpf' $winget || fail "winget: no package identifier"

step "checksums"
(cd dist && sha256sum --quiet -c checksums.txt) || fail "checksums do not match"
echo "$(wc -l < dist/checksums.txt) checksums ok"

step "archive contents"
for f in dist/kpf_"${version}"_*.tar.gz; do
	list=$(tar -tzf "$f")
	for want in kpf README.md LICENSE CHANGELOG.md completions/kpf.bash completions/kpf.zsh completions/kpf.fish man/kpf.1.gz man/kpf-apply.1.gz; do
		grep -qx "$want" <<<"$list" || fail "$f lacks $want"
	done
done
for f in dist/kpf_"${version}"_windows_*.zip; do
	for want in kpf.exe README.md LICENSE CHANGELOG.md completions/kpf.ps1; do
		if command -v unzip >/dev/null; then
			list=$(unzip -Z1 "$f") # not piped into grep -q: SIGPIPE under pipefail
			grep -qx "$want" <<<"$list" || fail "$f lacks $want"
		else # no unzip on a bare Debian: a zip keeps its file names in plain text
			grep -aq "$want" "$f" || fail "$f lacks $want"
		fi
	done
done
echo "ok"

if command -v rpm >/dev/null; then
	step "the .rpm (rpm -qlp)"
	list=$(rpm -qlp dist/kpf-*.x86_64.rpm)
	for want in /usr/bin/kpf /usr/share/bash-completion/completions/kpf /usr/share/zsh/site-functions/_kpf \
		/usr/share/fish/vendor_completions.d/kpf.fish /usr/share/man/man1/kpf.1.gz /usr/share/licenses/kpf/LICENSE; do
		grep -qx "$want" <<<"$list" || fail "the rpm lacks $want"
	done
	echo ok
fi

tmp=$(mktemp -d)
cleanup() {
	if [ -n "${installed:-}" ]; then dpkg -r kpf >/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

step "the linux/amd64 archive's binary"
tar -xzf "dist/kpf_${version}_linux_amd64.tar.gz" -C "$tmp" kpf
"$tmp/kpf" version
# Outputs are captured, never piped into grep -q: SIGPIPE under pipefail.
out=$("$tmp/kpf" version --json)
grep -q "\"commit\": \"$commit\"" <<<"$out" || fail "the archive's kpf does not report commit $commit: $out"
grep -q "\"version\": \"v$version\"" <<<"$out" || fail "the archive's kpf does not report version v$version: $out"
grep -q "\"date\": \"$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)\"" <<<"$out" || fail "the archive's kpf does not report the commit date: $out"
out=$(go version -m "$tmp/kpf")
grep -q 'CGO_ENABLED=0' <<<"$out" || fail "the archive's kpf was built with cgo"

step "the .deb"
deb=dist/kpf_"${version//-/\~}"_amd64.deb
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
if [ "$(id -u)" = 0 ]; then
	dpkg -i "$deb"
	installed=1
	prefix=
else
	echo "not root: dpkg -x into $tmp/root instead of dpkg -i"
	dpkg -x "$deb" "$tmp/root"
	prefix=$tmp/root
fi
kpf=$prefix/usr/bin/kpf
[ -x "$kpf" ] || fail "$kpf is not installed"
"$kpf" version
out=$("$kpf" version --json)
grep -q "\"commit\": \"$commit\"" <<<"$out" || fail "the installed kpf does not report commit $commit: $out"
out=$("$kpf" completion bash)
grep -q __start_kpf <<<"$out" || fail "kpf completion bash"
for f in /usr/share/bash-completion/completions/kpf /usr/share/zsh/vendor-completions/_kpf \
	/usr/share/fish/vendor_completions.d/kpf.fish /usr/share/man/man1/kpf.1.gz \
	/usr/share/man/man1/kpf-apply.1.gz /usr/share/doc/kpf/copyright; do
	[ -s "$prefix$f" ] || fail "the .deb did not install $f"
done
if [ -n "${installed:-}" ] && command -v man >/dev/null; then
	page=$(man -w kpf) || fail "man -w kpf finds no page"
	echo "man -w kpf: $page"
	out=$(man kpf-apply 2>/dev/null)
	grep -q 'kpf-apply' <<<"$out" || fail "man kpf-apply"
fi
if [ -n "${installed:-}" ]; then
	dpkg -r kpf
	installed=
	[ ! -e /usr/bin/kpf ] || fail "dpkg -r left /usr/bin/kpf"
fi

step "release-check passed"
