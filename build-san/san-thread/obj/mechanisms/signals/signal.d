build-san/san-thread/obj/mechanisms/signals/signal.o: \
 mechanisms/signals/signal.c mechanisms/include/ipcplay/signals/signals.h \
 mechanisms/include/ipcplay/signals/../ipc.h \
 mechanisms/core/kernel_util.h mechanisms/ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/core/deadline.h mechanisms/core/error.h mechanisms/core/fd.h \
 mechanisms/core/futex.h mechanisms/core/names.h \
 mechanisms/core/process.h mechanisms/core/segment.h \
 mechanisms/core/sync.h mechanisms/core/thread.h mechanisms/core/wait.h
mechanisms/include/ipcplay/signals/signals.h:
mechanisms/include/ipcplay/signals/../ipc.h:
mechanisms/core/kernel_util.h:
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
