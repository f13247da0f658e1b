build-san/san-address/obj/mechanisms/engines/ring.o: \
 mechanisms/engines/ring.c mechanisms/engines/ring.h \
 mechanisms/engines/../ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/engines/../core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/engines/../core/deadline.h \
 mechanisms/engines/../core/error.h mechanisms/engines/../core/fd.h \
 mechanisms/engines/../core/futex.h mechanisms/engines/../core/names.h \
 mechanisms/engines/../core/process.h \
 mechanisms/engines/../core/segment.h mechanisms/engines/../core/sync.h \
 mechanisms/engines/../core/thread.h mechanisms/engines/../core/wait.h
mechanisms/engines/ring.h:
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
