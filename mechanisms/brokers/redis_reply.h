/*
 * redis_reply.h — how redis.c reads what the server answers to its scripts
 * (private; pure functions, no connection: tests/fuzz/redis_reply.c feeds
 * them every reply a broken or hostile server could send, parsed by
 * hiredis's own reader).
 *
 * Invariant: nothing in a reply is trusted.  A payload is copied only when
 * it fits the caller's buffer, a field is read only after its type is
 * checked, and a reply of any other shape is IPC_REPLY_BAD, never a message.
 */
#ifndef IPCPLAY_REDIS_REPLY_H
#define IPCPLAY_REDIS_REPLY_H

#include <hiredis.h>
#include <stddef.h>

/* A reply not of the shape the script returns. */
#define IPC_REPLY_BAD (-10LL)

/* The pop script's reply {code, arg[, payload]}.  RETURNS the code: 0 (the
 * payload, at most cap bytes, is in buf, *len its size, *prio = arg),
 * IPC_EMSGSIZE (*arg the message's size), IPC_EEMPTY (*arg ms until the next
 * delayed message, or -1), another IPC_E* or -9 (closed / keys gone; the
 * caller says which), or IPC_REPLY_BAD (then buf, *len, *prio are
 * untouched). */
long long ipc__redis_pop_reply(const redisReply *rep, void *buf, size_t cap, size_t *len, int *prio, long long *arg);

/* The popn script's reply {n, payload...}: copies payloads of at most each
 * bytes into buf + i*each (i from first) until max, a non-string or a
 * payload too large.  RETURNS the index after the last one copied (first
 * when none). */
size_t ipc__redis_popn_reply(const redisReply *rep, void *buf, size_t each, size_t *lens, size_t first, size_t max);

/* HMGET meta order capacity max_msg.  RETURNS 0 (*order 0..2, *capacity,
 * *max_msg >= 1 set) or -1 (no such channel, or values out of range). */
int ipc__redis_meta_reply(const redisReply *rep, int *order, size_t *capacity, size_t *max_msg);

#endif
