#!/bin/sh
# make-screenshots.sh — regenerate the visualizer pictures of TUTORIAL.md.
# Each picture is the last of 75 frames (2.5 s at 30 fps) of a real run,
# rendered off-screen by ipcviz --headless.  Run from the top of the tree
# after `make` (or `make BUILD=dir all`); BUILD defaults to build.
set -eu
BUILD=${BUILD:-build}
OUT=$(dirname "$0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export SDL_VIDEODRIVER=dummy

shot() { # shot NAME ipcviz-args...
    name=$1; shift
    mkdir -p "$TMP/$name"
    "$BUILD/ipcviz" "$@" --headless --frames 75 --out "$TMP/$name"
    cp "$TMP/$name/frame_00074.png" "$OUT/viz_$name.png"
}

shot queue    --mech queue
shot pipe     --mech pipe --processes
shot pipe_full --scenario viz/scenarios/pipe-full.scn
shot lifo     --scenario viz/scenarios/lifo-starvation.scn
shot signal   --mech signal --threads --producers 1 --consumers 1
shot unlocked --scenario viz/scenarios/unlocked-race.scn
shot shm_spsc --mech shm_spsc --processes --producers 1 --consumers 1
shot eventfd  --mech eventfd --processes
shot redis    --mech redis
shot websocket --mech websocket --processes
