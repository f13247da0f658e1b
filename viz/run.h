/*
 * run.h — the real run the visualizer shows: producer and consumer threads
 * (or forked processes) moving real messages through a real channel, every
 * call reported into the event trace by the library's observer hook.
 *
 * Nothing here draws or waits for the display: the run goes at its own
 * speed, and pausing or rewinding the animation never slows it.
 */
#ifndef IPCVIZ_RUN_H
#define IPCVIZ_RUN_H

#include "scenario.h"
#include "trace.h"

#include <stdbool.h>
#include <stdint.h>

/* What the picture needs to know about the channel. */
typedef struct viz_run_info {
    char     name[64];       /* "queue", "pipe", ... or VIZ_TOY_NAME      */
    char     family[32];     /* "queues", "pipes", ... (for printing)     */
    int      family_id;      /* enum ipc_family: what views choose by     */
    int      carrier;        /* enum ipc_carrier                          */
    char     wait[64];       /* the wait strategy (like aeGetApiName)     */
    char     summary[160];
    unsigned caps;           /* IPC_CAP_*                                 */
    size_t   capacity;       /* effective, in messages; 0 = unbounded     */
    size_t   msg_size;
    bool     toy;            /* the deliberately broken unlocked queue    */
    bool     processes;      /* actors are forked processes               */
    int      wait_strategy;  /* how blocked actors wait (ipc_wait_strategy):
                                IPC_WAIT_SPIN burns a CPU, BLOCK sleeps,
                                ADAPTIVE spins briefly then sleeps; 0 for
                                the toy queue                             */
    int64_t  t0;             /* CLOCK_MONOTONIC at the start of the run   */
} viz_run_info;

typedef struct viz_run_counts {
    uint64_t sent, received;      /* messages the run really carried      */
    int      producers, consumers;/* actors still running                 */
    bool     closed;              /* the last message went in: ipc_close  */
    bool     finished;            /* closed and every consumer has left   */
    char     error[200];          /* the first failure an actor met, or "" */
    int64_t  cpu_ns[VIZ_MAX_ACTORS]; /* CPU time each actor has used so far
                                     (its CLOCK_THREAD_CPUTIME_ID, published
                                     by the actor after every call: a
                                     spinning wait shows within SLICE_MS) */
} viz_run_counts;

typedef struct viz_run viz_run;

/* Open the channel and start the actors.  Returns 0, or -1 with err set. */
int  viz_run_start(const viz_scenario *s, viz_run **out, char *err, size_t errlen);
/* Ask every actor to stop, shut the channel, wait for them (killing a
 * process that does not leave within seconds).  The trace stays readable. */
void viz_run_stop(viz_run *r);
/* viz_run_stop if needed, then release everything.  NULL is a no-op. */
void viz_run_free(viz_run *r);

/* Call every frame: reaps actors that left, and once the last message is
 * sent closes the channel so the consumers drain and finish. */
void viz_run_poll(viz_run *r);

viz_trace          *viz_run_trace(viz_run *r);
const viz_run_info *viz_run_info_of(const viz_run *r);
void                viz_run_counts_of(const viz_run *r, viz_run_counts *c);

/* Live controls.  add/remove return the actor id, or -1 with err set. */
int  viz_run_add(viz_run *r, enum viz_role role, char *err, size_t errlen);
int  viz_run_remove(viz_run *r, enum viz_role role, char *err, size_t errlen);
void viz_run_set_delay(viz_run *r, enum viz_role role, int ms);
int  viz_run_delay(const viz_run *r, enum viz_role role);

/* Actor ids: producers 0..7, consumers 8..15. */
static inline int viz_actor_id(enum viz_role role, int index)
{
    return role == VIZ_PRODUCER ? index : VIZ_MAX_PRODUCERS + index;
}
static inline enum viz_role viz_actor_role(int id) { return id < VIZ_MAX_PRODUCERS ? VIZ_PRODUCER : VIZ_CONSUMER; }
static inline int viz_actor_index(int id) { return id < VIZ_MAX_PRODUCERS ? id : id - VIZ_MAX_PRODUCERS; }

/* The priority a producer gives message `seq` on a priority channel. */
static inline int viz_prio_for(uint32_t seq) { return (int)((seq * 7u + 3u) % 4u); }

#endif
