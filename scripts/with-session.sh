#!/bin/sh
# Runs a command the way the tests need the desktop pieces: a private D-Bus session with GNOME
# Keyring unlocked by a throwaway password (a real Secret Service), XDG folders in a scratch
# directory so nothing lands in $HOME, and no display a keyring prompt could hang on.
# Usage: scripts/with-session.sh SECONDS command [args...]
set -eu

limit=$1
shift

for tool in dbus-run-session gnome-keyring-daemon secret-tool timeout; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "with-session: $tool is missing; run \`make install\`" >&2
        exit 1
    }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/chatlink-session.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
chmod 700 "$scratch"
mkdir -m 700 "$scratch/data" "$scratch/config" "$scratch/cache" "$scratch/runtime"
export XDG_DATA_HOME="$scratch/data"
export XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/runtime"
unset DISPLAY WAYLAND_DISPLAY

timeout --kill-after=10 "$limit" dbus-run-session -- sh -c '
    echo -n test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    CHATLINK_KEYRING_TEST=1 "$@"
' with-session "$@"
