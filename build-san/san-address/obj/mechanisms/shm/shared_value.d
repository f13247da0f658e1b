build-san/san-address/obj/mechanisms/shm/shared_value.o: \
 mechanisms/shm/shared_value.c \
 mechanisms/include/ipcplay/shm/shared_value.h \
 mechanisms/include/ipcplay/shm/../ipc.h mechanisms/shm/../ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/shm/../core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/shm/../core/deadline.h mechanisms/shm/../core/error.h \
 mechanisms/shm/../core/fd.h mechanisms/shm/../core/futex.h \
 mechanisms/shm/../core/names.h mechanisms/shm/../core/process.h \
 mechanisms/shm/../core/segment.h mechanisms/shm/../core/sync.h \
 mechanisms/shm/../core/thread.h mechanisms/shm/../core/wait.h
mechanisms/include/ipcplay/shm/shared_value.h:
mechanisms/include/ipcplay/shm/../ipc.h:
mechanisms/shm/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/shm/../core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/shm/../core/deadline.h:
mechanisms/shm/../core/error.h:
mechanisms/shm/../core/fd.h:
mechanisms/shm/../core/futex.h:
mechanisms/shm/../core/names.h:
mechanisms/shm/../core/process.h:
mechanisms/shm/../core/segment.h:
mechanisms/shm/../core/sync.h:
mechanisms/shm/../core/thread.h:
mechanisms/shm/../core/wait.h:
