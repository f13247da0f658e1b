build-san/san-address/obj/mechanisms/queues/queue.o: \
 mechanisms/queues/queue.c \
 mechanisms/include/ipcplay/queues/thread_queue.h \
 mechanisms/include/ipcplay/queues/../ipc.h \
 mechanisms/queues/../ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/queues/../core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/queues/../core/deadline.h \
 mechanisms/queues/../core/error.h mechanisms/queues/../core/fd.h \
 mechanisms/queues/../core/futex.h mechanisms/queues/../core/names.h \
 mechanisms/queues/../core/process.h mechanisms/queues/../core/segment.h \
 mechanisms/queues/../core/sync.h mechanisms/queues/../core/thread.h \
 mechanisms/queues/../core/wait.h
mechanisms/include/ipcplay/queues/thread_queue.h:
mechanisms/include/ipcplay/queues/../ipc.h:
mechanisms/queues/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/queues/../core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/queues/../core/deadline.h:
mechanisms/queues/../core/error.h:
mechanisms/queues/../core/fd.h:
mechanisms/queues/../core/futex.h:
mechanisms/queues/../core/names.h:
mechanisms/queues/../core/process.h:
mechanisms/queues/../core/segment.h:
mechanisms/queues/../core/sync.h:
mechanisms/queues/../core/thread.h:
mechanisms/queues/../core/wait.h:
