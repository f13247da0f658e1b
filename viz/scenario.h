/*
 * scenario.h — what the visualizer runs: which mechanism, how many producers
 * and consumers, how fast each side goes, how big the channel is.
 *
 * A scenario comes from defaults, then an optional file (--scenario FILE,
 * "key = value" lines), then command-line flags, in that order; the keys of
 * the file are the flags without their dashes (send-delay-ms or
 * send_delay_ms).
 */
#ifndef IPCVIZ_SCENARIO_H
#define IPCVIZ_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#define VIZ_MAX_PRODUCERS 8
#define VIZ_MAX_CONSUMERS 8
#define VIZ_MAX_ACTORS    (VIZ_MAX_PRODUCERS + VIZ_MAX_CONSUMERS)
#define VIZ_MSG_MIN       8      /* producer id + check + sequence number */
#define VIZ_MSG_MAX       65536
#define VIZ_TOY_NAME      "unlocked"  /* the deliberately broken queue (toyq.c) */

typedef struct viz_scenario {
    char   mech[64];
    int    producers, consumers;       /* 1..8 each at the start             */
    size_t capacity;                   /* messages; 0 = mechanism default     */
    int    send_delay_ms;              /* a producer's work between sends     */
    int    recv_delay_ms;              /* a consumer's work after each receive */
    long   messages;                   /* total to carry; 0 = run until quit  */
    size_t msg_size;                   /* bytes per message, >= VIZ_MSG_MIN   */
    int    burst;                      /* producers send `burst` messages ... */
    int    pause_ms;                   /* ... then rest this long (0 = never) */
    bool   processes;                  /* fork a process per producer/consumer */
    int    wait;                       /* enum ipc_wait the channel is opened
                                          with; 0 = the mechanism's default  */
} viz_scenario;

/* The default: a fast producer pair, a slow consumer and four slots, so the
 * first seconds show the queue fill, the producers block, then drain. */
void viz_scenario_default(viz_scenario *s);

/* Set one key ("producers", "send-delay-ms", ...) from text.  Returns 0, or
 * -1 with a message in err naming the key and the accepted range. */
int  viz_scenario_set(viz_scenario *s, const char *key, const char *value, char *err, size_t errlen);

/* Read a scenario file over s: a path, or the bare name of a lesson
 * ("unlocked-race") found in $IPCVIZ_SCENARIOS, the installed
 * <prefix>/share/ipcplay/scenarios or the tree's viz/scenarios.  Returns 0,
 * or -1 with "FILE:LINE: why". */
int  viz_scenario_load(viz_scenario *s, const char *name, char *err, size_t errlen);

/* Check the mechanism exists and can do what is asked (fork, message size). */
int  viz_scenario_check(const viz_scenario *s, char *err, size_t errlen);

/* The keys, for --help and error messages. */
extern const char viz_scenario_keys[];

#endif
