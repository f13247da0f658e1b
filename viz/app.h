/*
 * app.h — the visualizer program: a live run, its recorded trace, the
 * playback controls and a render target (a window, or an off-screen
 * surface with --headless).  main.c only calls viz_main(); the tests drive
 * an app frame by frame through the rest.
 */
#ifndef IPCVIZ_APP_H
#define IPCVIZ_APP_H

#include "gfx.h"
#include "model.h"
#include "render.h"
#include "run.h"
#include "scenario.h"

typedef struct viz_app_opts {
    viz_scenario sc;
    bool         headless;   /* render off-screen, no display needed      */
    int          frames;     /* headless: how many frames                 */
    int          fps;        /* frames per second of real time            */
    const char  *out_dir;    /* headless: write frame_NNNNN.png here;
                                screenshots go here too (default ".")     */
    const char  *font;       /* NULL: DejaVuSans                          */
    bool         predict;    /* start in "predict who blocks next" mode   */
} viz_app_opts;

typedef struct viz_app viz_app;

/* Returns 0, or -1 with err set (no font, no display, bad scenario...). */
int  viz_app_create(const viz_app_opts *o, viz_app **out, char *err, size_t errlen);
void viz_app_destroy(viz_app *a);

/* One frame: read the trace, advance playback by the real time since the
 * last frame (following the live run unless paused, slowed or rewound),
 * draw.  Returns 0 or -1. */
int  viz_app_frame(viz_app *a);
/* Act on a key as the window would; returns true when it asks to quit. */
bool viz_app_key(viz_app *a, SDL_Keycode key, Uint16 mod);

/* The colour of a pixel of the last frame drawn (headless only). */
bool viz_app_pixel(viz_app *a, int x, int y, SDL_Color *out);
/* Save the last frame drawn as PNG.  Returns 0 or -1 with err. */
int  viz_app_save_png(viz_app *a, const char *path, char *err, size_t errlen);

const viz_player *viz_app_player(const viz_app *a);
const viz_ui     *viz_app_ui(const viz_app *a);
viz_run          *viz_app_run(viz_app *a);
gfx              *viz_app_gfx(viz_app *a);

/* The whole program: parse argv, run, return the exit status. */
int  viz_main(int argc, char **argv);

#endif
