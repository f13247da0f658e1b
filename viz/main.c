/*
 * main.c — ipcviz, the SDL2 visualizer of ipcplay.  Everything is in app.c
 * (kept apart so the tests can link the visualizer without this main).
 *
 *   ipcviz                      the default scenario in a window (h: keys)
 *   ipcviz --mech pipe --processes
 *   ipcviz --headless --frames 90 --out shots/
 */
#include "app.h"

int main(int argc, char **argv)
{
    return viz_main(argc, argv);
}
