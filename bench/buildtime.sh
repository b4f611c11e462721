#!/usr/bin/env bash
# A cold build of the README's main job, side by side: each variant is a git revision (or the working tree) with
# cargo flags, built from a fresh target directory and then run (`etoro-token update --mock ...`), one variant
# after the other, round after round. On a shared machine only the ratios between variants of one run mean much:
# the variants take turns, so a busy minute slows one round, not one variant.
#
# usage: bench/buildtime.sh [--runs N] [--release] [--keep-timings] [VARIANT]...
#   VARIANT  'LABEL|REV|CARGO FLAGS', e.g. 'lean|HEAD|--no-default-features --features rustls'. REV is a git
#            revision, or WORKTREE for the files as they are now (target/ left out). Default: the revision before
#            issue 22 ("before") and the working tree ("now"), each with default features.
#   --runs N       rounds (default 1); the table shows each variant's median
#   --release      build with --release (for binary sizes; the README's figure is the debug build)
#   --keep-timings also pass --timings and copy each variant's last cargo-timing.html to target/buildtime/
#
# Crates must be downloaded already (the builds run --offline; `cargo fetch` runs first, untimed). Writes the
# table to stdout and to target/buildtime/results.md. Needs git, cargo, tar; nothing outside the checkout is read
# but cargo's own download cache.
set -euo pipefail

# The last commit of main before issue 22 (TLS features, a lighter default build).
readonly BEFORE=d2ce8e3
readonly JOB=(update --mock --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f
    --scope etoro-public:trade.real:read --ip 203.0.113.7 --expires-in 30d)

runs=1
profile=()
profile_dir=debug
timings=()
variants=()
while (($#)); do
    case $1 in
    --runs)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "error: --runs takes a whole number of at least 1" >&2; exit 2; }
        runs=$2
        shift 2
        ;;
    --release) profile=(--release); profile_dir=release; shift ;;
    --keep-timings) timings=(--timings); shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
        [[ $1 == *'|'*'|'* ]] || { echo "error: a variant is 'LABEL|REV|CARGO FLAGS', got '$1'" >&2; exit 2; }
        variants+=("$1")
        shift
        ;;
    esac
done
((${#variants[@]})) || variants=("before|$BEFORE|" "now|WORKTREE|")

root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
out_dir=$root/target/buildtime
mkdir -p "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/etoro-buildtime.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One source tree per variant, outside the checkout so that nothing it does touches this one.
for i in "${!variants[@]}"; do
    IFS='|' read -r label rev _ <<<"${variants[$i]}"
    mkdir -p "$work/src$i"
    if [[ $rev == WORKTREE ]]; then
        tar -C "$root" --exclude=./target --exclude=./.git --exclude=./.tools -cf - . | tar -C "$work/src$i" -xf -
    else
        git -C "$root" rev-parse --verify -q "$rev^{commit}" >/dev/null ||
            { echo "error: variant $label: $rev is not a revision of this repository" >&2; exit 2; }
        git -C "$root" archive "$rev" | tar -C "$work/src$i" -xf -
    fi
    (cd "$work/src$i" && cargo fetch --locked -q) ||
        { echo "error: variant $label: cargo fetch --locked failed (is Cargo.lock up to date?)" >&2; exit 2; }
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for ((run = 1; run <= runs; run++)); do
    for i in "${!variants[@]}"; do
        IFS='|' read -r label rev flags <<<"${variants[$i]}"
        target=$work/target$i
        rm -rf "$target"
        read -r -a flag_words <<<"$flags"
        start=$(date +%s.%N)
        (cd "$work/src$i" && CARGO_TARGET_DIR=$target cargo build --locked --offline -p etoro-token \
            "${profile[@]}" "${timings[@]}" "${flag_words[@]}") 2>"$work/log$i" ||
            { cat "$work/log$i" >&2; echo "error: variant $label: the build failed" >&2; exit 1; }
        "$target/$profile_dir/etoro-token" "${JOB[@]}" >/dev/null 2>&1 ||
            { echo "error: variant $label: the main job failed after the build" >&2; exit 1; }
        end=$(date +%s.%N)
        seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
        units=$(grep -c '^ *Compiling ' "$work/log$i" || true)
        bytes=$(stat -c %s "$target/$profile_dir/etoro-token")
        echo "$seconds" >>"$work/seconds$i"
        echo "$units $bytes" >"$work/facts$i"
        printf 'round %d/%d  %-12s %6.1f s  %3d crates compiled  %s bytes\n' "$run" "$runs" "$label" "$seconds" \
            "$units" "$bytes" >&2
        if ((${#timings[@]})); then
            cp "$target/cargo-timings/cargo-timing.html" "$out_dir/cargo-timing-$label.html"
        fi
        # A cold debug target is gigabytes: one at a time.
        rm -rf "$target"
    done
done

{
    echo "| variant | revision | cargo flags | cold build + main job (median of $runs, s) | vs first | crates compiled | etoro-token ($profile_dir) |"
    echo "|---|---|---|---|---|---|---|"
    first=
    for i in "${!variants[@]}"; do
        IFS='|' read -r label rev flags <<<"${variants[$i]}"
        [[ $rev == WORKTREE ]] || rev=$(git -C "$root" rev-parse --short "$rev")
        seconds=$(median <"$work/seconds$i")
        first=${first:-$seconds}
        read -r units bytes <"$work/facts$i"
        ratio=$(awk -v a="$seconds" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
        mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }')
        echo "| $label | $rev | ${flags:-(defaults)} | $seconds | $ratio | $units | $mib |"
    done
} | tee "$out_dir/results.md"
