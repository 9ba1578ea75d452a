#!/bin/sh
# Runs crates/core/tests/keyring.rs against a real Secret Service: a private D-Bus session with
# GNOME Keyring unlocked by a throwaway password. All keyring files go to a scratch folder, never
# to $HOME. Extra arguments go to the test harness (e.g. a test name).
#
# Needs: dbus (dbus-run-session), gnome-keyring, libsecret-tools (secret-tool).
set -eu

cd "$(dirname "$0")/.."

for tool in dbus-run-session gnome-keyring-daemon secret-tool timeout; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "keyring-test: $tool is missing (apt-get install dbus gnome-keyring libsecret-tools)" >&2
        exit 1
    }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/chatlink-keyring-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
chmod 700 "$scratch"
mkdir -m 700 "$scratch/data" "$scratch/config" "$scratch/cache" "$scratch/runtime"

export XDG_DATA_HOME="$scratch/data"
export XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/runtime"
# A keyring call must never reach a display (an unlock prompt nobody sees blocks forever).
unset DISPLAY WAYLAND_DISPLAY

timeout --kill-after=10 300 dbus-run-session -- sh -c '
    echo -n test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    CHATLINK_KEYRING_TEST=1 cargo test -p chatlink-core --test keyring -- --test-threads=1 "$@"
' keyring-test "$@"
