build-san/san-address/obj/mechanisms/pipes/tcp.o: mechanisms/pipes/tcp.c \
 mechanisms/include/ipcplay/pipes/tcp.h \
 mechanisms/include/ipcplay/pipes/../ipc.h mechanisms/pipes/named.h \
 mechanisms/engines/stream.h mechanisms/engines/../ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/engines/../core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/engines/../core/deadline.h mechanisms/engines/../core/error.h \
 mechanisms/engines/../core/fd.h mechanisms/engines/../core/futex.h \
 mechanisms/engines/../core/names.h mechanisms/engines/../core/process.h \
 mechanisms/engines/../core/segment.h mechanisms/engines/../core/sync.h \
 mechanisms/engines/../core/thread.h mechanisms/engines/../core/wait.h
mechanisms/include/ipcplay/pipes/tcp.h:
mechanisms/include/ipcplay/pipes/../ipc.h:
mechanisms/pipes/named.h:
mechanisms/engines/stream.h:
mechanisms/engines/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/engines/../core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/engines/../core/deadline.h:
mechanisms/engines/../core/error.h:
mechanisms/engines/../core/fd.h:
mechanisms/engines/../core/futex.h:
mechanisms/engines/../core/names.h:
mechanisms/engines/../core/process.h:
mechanisms/engines/../core/segment.h:
mechanisms/engines/../core/sync.h:
mechanisms/engines/../core/thread.h:
mechanisms/engines/../core/wait.h:
