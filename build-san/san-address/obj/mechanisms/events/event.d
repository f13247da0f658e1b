build-san/san-address/obj/mechanisms/events/event.o: \
 mechanisms/events/event.c mechanisms/core/stale.h \
 mechanisms/ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/core/deadline.h \
 mechanisms/core/error.h mechanisms/core/fd.h mechanisms/core/futex.h \
 mechanisms/core/names.h mechanisms/core/process.h \
 mechanisms/core/segment.h mechanisms/core/sync.h \
 mechanisms/core/thread.h mechanisms/core/wait.h \
 mechanisms/include/ipcplay/events/event.h \
 mechanisms/include/ipcplay/events/../ipc.h \
 mechanisms/events/../ipc_internal.h
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
mechanisms/include/ipcplay/events/event.h:
mechanisms/include/ipcplay/events/../ipc.h:
mechanisms/events/../ipc_internal.h:
