build-san/san-thread/obj/mechanisms/events/semaphore.o: \
 mechanisms/events/semaphore.c \
 mechanisms/include/ipcplay/events/semaphore.h \
 mechanisms/include/ipcplay/events/../ipc.h mechanisms/core/futex.h \
 mechanisms/core/deadline.h mechanisms/core/names.h \
 mechanisms/core/segment.h mechanisms/events/../ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/events/../core/backend.h \
 mechanisms/core/wait.h mechanisms/events/../core/deadline.h \
 mechanisms/events/../core/error.h mechanisms/events/../core/fd.h \
 mechanisms/events/../core/futex.h mechanisms/events/../core/names.h \
 mechanisms/events/../core/process.h mechanisms/events/../core/segment.h \
 mechanisms/events/../core/sync.h mechanisms/events/../core/thread.h \
 mechanisms/events/../core/wait.h
mechanisms/include/ipcplay/events/semaphore.h:
mechanisms/include/ipcplay/events/../ipc.h:
mechanisms/core/futex.h:
mechanisms/core/deadline.h:
mechanisms/core/names.h:
mechanisms/core/segment.h:
mechanisms/events/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/events/../core/backend.h:
mechanisms/core/wait.h:
mechanisms/events/../core/deadline.h:
mechanisms/events/../core/error.h:
mechanisms/events/../core/fd.h:
mechanisms/events/../core/futex.h:
mechanisms/events/../core/names.h:
mechanisms/events/../core/process.h:
mechanisms/events/../core/segment.h:
mechanisms/events/../core/sync.h:
mechanisms/events/../core/thread.h:
mechanisms/events/../core/wait.h:
