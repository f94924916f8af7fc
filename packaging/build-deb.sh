#!/usr/bin/env bash
# Build the Debian package hall-agent_<version>_<arch>.deb with the standard tools (dpkg-deb):
#   packaging/build-deb.sh [OUT_DIR]          (default: dist/)
# Run it on the distribution it is for (Debian 12 amd64 here: the agent's venv is made with
# that system's python3, 3.11; Ubuntu 24.04 needs a build on 24.04, Python 3.12; arm64 a
# build on arm64, where PySide6 and OpenCV have manylinux aarch64 wheels too).
# The package: the agent in its own venv in /opt/hall-agent, /usr/bin/hall-agent, one
# systemd unit per role with Restart= and WatchdogSec=, the bare X session for screen PCs,
# a daily backup timer, udev permissions, the broker configs; see docs/deploy.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)"
build_python="${BUILD_PYTHON:-$here/.venv/bin/python}"   # has 'build' (packaging/dev.sh setup)
target_python="${TARGET_PYTHON:-/usr/bin/python3}"
opt=/opt/hall-agent
deb="$here/packaging/debian"

version="$("$build_python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$here/pyproject.toml")"
arch="$(dpkg --print-architecture)"
pyver="$("$target_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
next_minor="$("$target_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "build-deb: wheel" >&2
# from a copy without build leftovers: setuptools would reuse a stale *.egg-info file list
mkdir "$work/src"
tar -C "$here" --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist \
  --exclude='*.egg-info' --exclude=__pycache__ --exclude=./demo-screenshots -cf - . \
  | tar -C "$work/src" -xf -
"$build_python" -m build --wheel --no-isolation --outdir "$work/wheel" "$work/src" >/dev/null

echo "build-deb: venv $opt (python $pyver) with the agent and its dependencies" >&2
"$target_python" -m venv --without-pip "$root$opt"
"$build_python" -m pip --python "$root$opt/bin/python3" install -q --no-compile \
  "$work"/wheel/*.whl 2> >(grep -v "^WARNING: Location .* is ignored" >&2)
# The venv was made at a staging path: point its scripts and config at /opt/hall-agent.
grep -rlI --null "$root$opt" "$root$opt/bin" "$root$opt/pyvenv.cfg" \
  | xargs -0 sed -i "s|$root$opt|$opt|g"
find "$root$opt" -name __pycache__ -type d -prune -exec rm -rf {} +

echo "build-deb: files" >&2
install -D -m 0755 "$deb/hall-agent-session" "$root$opt/libexec/hall-agent-session"
install -D -m 0755 "$deb/hall-agent-update" "$root$opt/libexec/hall-agent-update"
install -D -m 0440 "$deb/sudoers" "$root/etc/sudoers.d/hall-agent-update"
install -D -m 0755 "$deb/hall-agent.wrapper" "$root/usr/bin/hall-agent"
install -D -m 0644 "$deb/default" "$root/etc/default/hall-agent"
install -D -m 0644 "$deb/70-hall-agent.rules" "$root/lib/udev/rules.d/70-hall-agent.rules"
units="$root/lib/systemd/system"
install -D -m 0644 -t "$units" "$deb/hall-agent-hub.service" \
  "$deb/hall-agent-backup.service" "$deb/hall-agent-backup.timer"
screens=(kiosk window display all)
for role in "${screens[@]}"; do
  others=()
  for other in "${screens[@]}"; do
    [ "$other" = "$role" ] || others+=("hall-agent-$other.service")
  done
  sed -e "s|@ROLE@|$role|g" -e "s|@CONFLICTS@|${others[*]}|" "$deb/screen.service.in" \
    >"$units/hall-agent-$role.service"
done
install -d "$root/usr/share/hall-agent/mosquitto" "$root/usr/share/doc/hall-agent"
install -m 0644 -t "$root/usr/share/hall-agent/mosquitto" "$here"/packaging/mosquitto/*.conf
install -m 0644 "$here/docs/deploy.md" "$root/usr/share/doc/hall-agent/deploy.md"

echo "build-deb: control" >&2
install -d "$root/DEBIAN"
install -m 0755 -t "$root/DEBIAN" "$deb/postinst" "$deb/prerm" "$deb/postrm"
printf '%s\n' /etc/default/hall-agent /etc/sudoers.d/hall-agent-update >"$root/DEBIAN/conffiles"
size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<EOF
Package: hall-agent
Version: $version-1
Architecture: $arch
Maintainer: Hall edge agent developers <hall-agent@localhost>
Installed-Size: $size_kb
Depends: python3 (>= $pyver), python3 (<< $next_minor), adduser, libzbar0, fonts-noto-cjk,
 libglib2.0-0, libegl1, libgl1, libxkbcommon0, libfontconfig1, libfreetype6, libdbus-1-3,
 libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0,
 libxcb-render-util0, libxcb-randr0, libxcb-shape0, libxcb-xkb1, libxcb-sync1,
 libxcb-xfixes0, libxcb-shm0, libx11-xcb1, libxcb-util1
Recommends: xinit, xserver-xorg-core, xserver-xorg-input-libinput, x11-xserver-utils, udev, sudo
Suggests: mosquitto, mosquitto-clients
Section: misc
Priority: optional
Homepage: https://example.invalid/hall-agent
Description: edge agent for government service halls
 Queue tickets at self-service kiosks, window stations, LED call displays, the hall display
 with voice, ratings, and sync with the central platform over MQTT; keeps working offline.
 One program in several roles (hub, kiosk, window, display, all), each a systemd unit.
EOF

file="$out/hall-agent_${version}-1_${arch}.deb"
echo "build-deb: dpkg-deb (zstd)" >&2
dpkg-deb --root-owner-group -Zzstd -z3 --build "$root" "$file" >/dev/null
echo "$file"
