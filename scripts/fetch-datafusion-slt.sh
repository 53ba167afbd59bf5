#!/usr/bin/env bash
# Downloads DataFusion's own sqllogictest files once and prints the directory that holds
# them (`test_files/` and `data/`), for SPATE_DATAFUSION_SLT_DIR.
#
# They ship in the published `datafusion-sqllogictest` crate of the same version as the
# `datafusion` in Cargo.lock. The crate is unpacked where DataFusion's repository has it,
# `<cache>/datafusion-<version>/datafusion/sqllogictest/`, because the files name their
# data relative to that place. The cache lives outside the clone:
# SPATE_TESTDATA_CACHE, else ~/.cache/spate-testdata.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '/^name = "datafusion"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[[ -n "$version" ]] || { echo "no datafusion version in Cargo.lock" >&2; exit 1; }

cache="${SPATE_TESTDATA_CACHE:-$HOME/.cache/spate-testdata}"
root="$cache/datafusion-$version"
dir="$root/datafusion/sqllogictest"

if [[ ! -d "$dir/test_files" ]]; then
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/.download.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    url="https://static.crates.io/crates/datafusion-sqllogictest/$version/download"
    echo "downloading $url" >&2
    curl --fail --silent --show-error --location --retry 3 --output "$work/crate.tar.gz" "$url"
    tar -xzf "$work/crate.tar.gz" -C "$work"
    unpacked="$work/datafusion-sqllogictest-$version"
    [[ -d "$unpacked/test_files" ]] || {
        echo "the datafusion-sqllogictest $version crate has no test_files/" >&2
        exit 1
    }
    # Placed in one rename, so a killed download never looks complete.
    mkdir -p "$root/datafusion"
    rm -rf "$dir"
    mv "$unpacked" "$dir"
fi

echo "$dir"
