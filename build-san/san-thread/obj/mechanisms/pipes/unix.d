build-san/san-thread/obj/mechanisms/pipes/unix.o: mechanisms/pipes/unix.c \
 mechanisms/core/stale.h mechanisms/ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/core/deadline.h mechanisms/core/error.h mechanisms/core/fd.h \
 mechanisms/core/futex.h mechanisms/core/names.h \
 mechanisms/core/process.h mechanisms/core/segment.h \
 mechanisms/core/sync.h mechanisms/core/thread.h mechanisms/core/wait.h \
 mechanisms/include/ipcplay/pipes/unix.h \
 mechanisms/include/ipcplay/pipes/../ipc.h mechanisms/pipes/named.h \
 mechanisms/engines/stream.h mechanisms/engines/../ipc_internal.h
mechanisms/core/stale.h:
mechanisms/ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/core/fd.h:
mechanisms/core/futex.h:
mechanisms/core/names.h:
mechanisms/core/process.h:
mechanisms/core/segment.h:
mechanisms/core/sync.h:
mechanisms/core/thread.h:
mechanisms/core/wait.h:
mechanisms/include/ipcplay/pipes/unix.h:
mechanisms/include/ipcplay/pipes/../ipc.h:
mechanisms/pipes/named.h:
mechanisms/engines/stream.h:
mechanisms/engines/../ipc_internal.h:
