build-san/san-thread/obj/mechanisms/core/segment.o: \
 mechanisms/core/segment.c mechanisms/core/segment.h \
 mechanisms/core/error.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/core/names.h mechanisms/core/stale.h \
 mechanisms/ipc_internal.h mechanisms/core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/core/deadline.h mechanisms/core/error.h mechanisms/core/fd.h \
 mechanisms/core/futex.h mechanisms/core/names.h \
 mechanisms/core/process.h mechanisms/core/segment.h \
 mechanisms/core/sync.h mechanisms/core/thread.h mechanisms/core/wait.h \
 mechanisms/core/sync.h
mechanisms/core/segment.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/core/names.h:
mechanisms/core/stale.h:
mechanisms/ipc_internal.h:
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
mechanisms/core/sync.h:
