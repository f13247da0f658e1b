/*
 * render.h — one frame of the picture, drawn from the model at the
 * playback time: producers on the left, the channel in the middle drawn the
 * way the mechanism works, consumers on the right; timelines, counters and
 * plots below.
 */
#ifndef IPCVIZ_RENDER_H
#define IPCVIZ_RENDER_H

#include "gfx.h"
#include "model.h"
#include "run.h"

#define VIZ_W 1280
#define VIZ_H 720

enum viz_predict { PREDICT_OFF, PREDICT_ASK, PREDICT_WATCH, PREDICT_VERDICT };

/* What the frame shows besides the model: playback and prompt state. */
typedef struct viz_ui {
    bool             help;
    bool             paused;
    double           speed;           /* playback speed, 1 = real time       */
    int64_t          behind_ns;       /* playback behind the newest event    */
    enum viz_predict predict;
    bool             predict_right;   /* PREDICT_VERDICT: was the guess right */
    char             predict_text[200];
    int              score_right, score_total;
    char             status[200];     /* the last thing a key did            */
    int              send_delay_ms, recv_delay_ms;
    viz_run_counts   counts;          /* the run's own counters              */
    double           run_rate;        /* ... and its messages/s, live         */
    double           cpu_pct[VIZ_MAX_ACTORS]; /* each actor's CPU use over the
                                         last second, live (100 = one CPU)  */
} viz_ui;

void viz_render(gfx *g, const viz_player *p, const viz_ui *ui);

/* Where an actor's state badge is drawn in the frame for this model
 * (false if the actor is not on screen): tests read its pixels.  The
 * badge is filled with viz_state_color() up to 10 px from its left end,
 * where its text begins. */
bool viz_render_badge_rect(gfx *g, const viz_model *m, int actor, SDL_Rect *out);

SDL_Color   viz_state_color(enum viz_state s);
/* A blocked actor of a channel that waits by IPC_WAIT_SPIN does not sleep:
 * it retries on a CPU.  Its badge wears this colour and says SPINNING, and
 * its card shows the CPU it burns (viz_ui.cpu_pct). */
SDL_Color   viz_spin_color(void);
bool        viz_actor_spins(const viz_model *m, int actor);
/* The CPU% one side's actors burn together (100 = one whole CPU). */
double      viz_side_cpu(const viz_ui *ui, enum viz_role role);
const char *viz_state_label(enum viz_state s);
SDL_Color   viz_producer_color(int producer);

#endif
