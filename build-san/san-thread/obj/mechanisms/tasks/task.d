build-san/san-thread/obj/mechanisms/tasks/task.o: mechanisms/tasks/task.c \
 mechanisms/include/ipcplay/tasks/task.h \
 mechanisms/include/ipcplay/tasks/../ipc.h \
 mechanisms/tasks/../ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/tasks/../core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/tasks/../core/deadline.h \
 mechanisms/tasks/../core/error.h mechanisms/tasks/../core/fd.h \
 mechanisms/tasks/../core/futex.h mechanisms/tasks/../core/names.h \
 mechanisms/tasks/../core/process.h mechanisms/tasks/../core/segment.h \
 mechanisms/tasks/../core/sync.h mechanisms/tasks/../core/thread.h \
 mechanisms/tasks/../core/wait.h
mechanisms/include/ipcplay/tasks/task.h:
mechanisms/include/ipcplay/tasks/../ipc.h:
mechanisms/tasks/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/tasks/../core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/tasks/../core/deadline.h:
mechanisms/tasks/../core/error.h:
mechanisms/tasks/../core/fd.h:
mechanisms/tasks/../core/futex.h:
mechanisms/tasks/../core/names.h:
mechanisms/tasks/../core/process.h:
mechanisms/tasks/../core/segment.h:
mechanisms/tasks/../core/sync.h:
mechanisms/tasks/../core/thread.h:
mechanisms/tasks/../core/wait.h:
