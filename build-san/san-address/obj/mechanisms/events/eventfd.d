build-san/san-address/obj/mechanisms/events/eventfd.o: \
 mechanisms/events/eventfd.c mechanisms/include/ipcplay/events/eventfd.h \
 mechanisms/include/ipcplay/events/../ipc.h \
 mechanisms/events/../ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/events/../core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/events/../core/deadline.h \
 mechanisms/events/../core/error.h mechanisms/events/../core/fd.h \
 mechanisms/events/../core/futex.h mechanisms/events/../core/names.h \
 mechanisms/events/../core/process.h mechanisms/events/../core/segment.h \
 mechanisms/events/../core/sync.h mechanisms/events/../core/thread.h \
 mechanisms/events/../core/wait.h
mechanisms/include/ipcplay/events/eventfd.h:
mechanisms/include/ipcplay/events/../ipc.h:
mechanisms/events/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/events/../core/backend.h:
mechanisms/core/deadline.h:
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
