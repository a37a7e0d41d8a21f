#!/usr/bin/env bash
# profiling/gather_gpu_deps.sh: run on a Debian 12 machine WITH network access (this one), before
# profiling/gpu_check.sh runs on a GPU machine that can download nothing. Collects into the ignored
# folder .gpu-carry/ what that build needs and such a machine may lack:
#   .gpu-carry/root.tar.xz  the -dev packages of .ci/setup and their runtime libraries, fetched with
#                           `apt-get download`, unpacked with `dpkg -x`, pruned (Boost: only the headers
#                           Boost.Context pulls in; no docs, man pages, locales or static libraries but
#                           GoogleTest's) and packed, with pkgconf (cairo is found through pkg-config),
#                           with Debian's alternatives links (libopenblas.so, cblas.h) made by hand;
#   .gpu-carry/data/        the Fashion-MNIST files (dataset-fashion-mnist);
#   .gpu-carry/pydeps/      safetensors from PyPI (the checkpoint tests' reference reader);
#   .gpu-carry/MANIFEST     what is in there, and the sizes.
# gpu_check.sh unpacks root.tar.xz (outside the checkout) and points CMake, the compilers, the loader,
# CUVAE_DATA and CUVAE_PYDEPS at it when the system lacks the packages. The whole folder stays under
# ~60 MiB, because it travels with the checkout (64 MiB in all): carry [".gpu-carry"].
# Usage: profiling/gather_gpu_deps.sh [--keep-root]   (--keep-root: also leave the unpacked tree in
#        .gpu-carry/root for inspection; it is too big to travel, so do not carry it)
set -euo pipefail

die() { echo "gather_gpu_deps: $*" >&2; exit 1; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
carry="$repo/.gpu-carry"
keep_root=0
[[ ${1:-} == --keep-root ]] && keep_root=1

for tool in apt-get apt-cache dpkg dpkg-deb tar xz g++; do
  command -v "$tool" >/dev/null || die "needs $tool (a Debian 12 machine with network access)"
done
[[ -f $repo/.ci/setup ]] || die "$repo/.ci/setup not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/cuvae-gather.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root"

# ---- which packages: the -dev packages of .ci/setup, then their Depends, down to the libraries a
# CUDA image may lack. Base-system packages every such image has are not followed.
mapfile -t roots < <(sed -n '/^debs=(/,/)/p' "$repo/.ci/setup" | tr ' ()' '\n\n\n' | grep -E -- '-dev$' | sort -u)
((${#roots[@]})) || die "found no -dev packages in .ci/setup"
# Not followed either: what only CI's other jobs use (clang's fuzzer runtime, the OpenMP OpenBLAS).
skip_re='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libgcc-s1|gcc-[0-9]+-base|libstdc\+\+6|libstdc\+\+-[0-9]+-dev|zlib1g|googletest|libcrypt.*|libboost-(thread|atomic|chrono|date-time|system|serialization)[0-9.]*-dev|libclang-rt-[0-9]+-dev|libopenblas-openmp-dev)$'
declare -A seen=()
queue=("${roots[@]}")
while ((${#queue[@]})); do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${seen[$p]:-} || $p =~ $skip_re ]] && continue
  seen[$p]=1
  # First alternative of each dependency (the pthread OpenBLAS), virtual ones (<...>) skipped.
  while read -r dep; do
    queue+=("$dep")
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" 2>/dev/null |
           awk 'BEGIN { alt = 0 }
                /^ *\|Depends:/ { if (!alt) print $2; alt = 1; next }
                /^ *Depends:/   { if (!alt) print $2; alt = 0; next }' | grep -v '^<' || true)
done
packages=("${!seen[@]}")
echo "gather_gpu_deps: ${#packages[@]} packages: ${packages[*]}" >&2

(cd "$work/debs" && apt-get download "${packages[@]}" >/dev/null 2>"$work/apt.log") ||
  { cat "$work/apt.log" >&2; die "apt-get download failed (network? run apt-get update first)"; }
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done

# ---- prune: only the Boost headers that <boost/context/fiber.hpp> includes; no docs or static BLAS.
root="$work/root"
[[ -f $root/usr/include/boost/context/fiber.hpp ]] || die "the Boost.Context headers are missing from the download"
echo '#include <boost/context/fiber.hpp>' > "$work/probe.cpp"
g++ -std=c++20 -M -I"$root/usr/include" "$work/probe.cpp" | tr ' \\' '\n\n' | grep -F "$root/usr/include/boost/" |
  sort -u > "$work/boost-headers"
mkdir -p "$work/boost-keep"
(cd "$root/usr/include" && sed "s|^$root/usr/include/||" "$work/boost-headers" | tar -cf - -T -) | tar -xf - -C "$work/boost-keep"
rm -rf "$root/usr/include/boost" && mv "$work/boost-keep/boost" "$root/usr/include/boost"
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian" "$root/usr/src" \
       "$root/usr/share/locale" "$root/usr/share/X11/locale" "$root"/usr/lib/python3*
# Static libraries: only GoogleTest's (Debian ships no shared ones); the build links the rest shared.
find "$root" -name '*.a' ! -name 'libgtest*.a' ! -name 'libgmock*.a' -delete

# ---- shared libraries: only those the build links (cairo, jpeg, png, Boost.Context, OpenBLAS), pkgconf's, and
# what they need (their DT_NEEDED closure, read with readelf). gpu_check.sh puts usr/lib/<arch> on
# LD_LIBRARY_PATH for every process it starts, the image's python3 and compilers too, so any other
# carried library (libffi, glib, libmount, libselinux, ...) would shadow the image's newer copy.
command -v readelf >/dev/null || die "needs readelf (binutils)"
lib="$root/usr/lib/x86_64-linux-gnu"
declare -A needed=()
todo=(libcairo.so.2 libjpeg.so.62 libpng16.so.16 libboost_context.so.1.74.0 libopenblas.so.0 libpkgconf.so.3)  # + the carried pkgconf
while ((${#todo[@]})); do
  so=${todo[0]}
  todo=("${todo[@]:1}")
  [[ -n ${needed[$so]:-} ]] && continue
  needed[$so]=1
  f=$(find "$lib" -name "$so" -print -quit)
  [[ -n $f ]] || continue  # the system's (libc, libm, libstdc++, libz)
  while read -r n; do todo+=("$n"); done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
for f in "$lib"/*.so.[0-9]* "$lib"/*-[0-9]*.so; do  # libfoo.so.N.M, and libfoo-N.M.so (libelf)
  [[ -f $f && ! -L $f ]] || continue
  soname=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [[ -n $soname && -n ${needed[$soname]:-} ]] && continue
  rm -f "$f"
done
find "$lib" -maxdepth 1 -xtype l -name '*.so.[0-9]*' -delete  # the runtime links to what went

# ---- Debian's alternatives (update-alternatives, which dpkg -x does not run): the pthread OpenBLAS.
blas="$lib/openblas-pthread"
[[ -d $blas ]] || die "no openblas-pthread in the download"
for f in libopenblas.so libopenblas.so.0 libblas.so libblas.so.3 liblapack.so liblapack.so.3; do
  [[ -e $blas/$f ]] && ln -sfn "openblas-pthread/$f" "$lib/$f"
done
for h in "$root"/usr/include/x86_64-linux-gnu/openblas-pthread/*.h; do
  ln -sfn "x86_64-linux-gnu/openblas-pthread/$(basename "$h")" "$root/usr/include/$(basename "$h")"
done
[[ -e $root/usr/include/cblas.h ]] || die "cblas.h missing after unpacking"
[[ -x $root/usr/bin/pkgconf && -f $lib/pkgconfig/cairo.pc ]] ||
  die "pkgconf or cairo.pc missing after unpacking (host/ finds cairo through pkg-config)"

# ---- pack; data; pydeps
rm -rf "$carry/root" "$carry/root.tar.xz" "$carry/data" "$carry/pydeps"
mkdir -p "$carry/data/fashion-mnist"
tar -C "$root" -cf - . | xz -T0 -6 > "$carry/root.tar.xz"
[[ $keep_root == 1 ]] && cp -a "$root" "$carry/root"

data_src=/usr/share/datasets/fashion-mnist
if [[ ! -f $data_src/train-images-idx3-ubyte.gz ]]; then
  (cd "$work" && apt-get download dataset-fashion-mnist >/dev/null 2>>"$work/apt.log") || die "cannot fetch dataset-fashion-mnist"
  dpkg -x "$work"/dataset-fashion-mnist_*.deb "$work/fm"
  data_src="$work/fm/usr/share/datasets/fashion-mnist"
fi
cp "$data_src"/*-ubyte.gz "$carry/data/fashion-mnist/"

python3 -m pip install -q --disable-pip-version-check --target "$carry/pydeps" --python-version 3.11 \
  --only-binary=:all: --no-deps safetensors >/dev/null || die "pip could not fetch safetensors"

{
  echo "# .gpu-carry, made by profiling/gather_gpu_deps.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) ($(. /etc/os-release && echo "$PRETTY_NAME"))"
  echo "# packages (root.tar.xz):"
  for deb in "$work"/debs/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done | sed 's/^/  /'
  echo "# sizes:"
  du -sh "$carry"/root.tar.xz "$carry"/data "$carry"/pydeps | sed 's/^/  /'
} > "$carry/MANIFEST"
total_kb=$(du -sk --exclude=root "$carry" | cut -f1)
echo "gather_gpu_deps: $carry: $((total_kb / 1024)) MiB (root.tar.xz, data, pydeps); carry it with [\".gpu-carry\"]" >&2
((total_kb <= 60 * 1024)) || echo "gather_gpu_deps: warning: over 60 MiB; the checkout and .gpu-carry travel in 64 MiB together" >&2
