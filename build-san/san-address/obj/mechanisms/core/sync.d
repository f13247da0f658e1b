build-san/san-address/obj/mechanisms/core/sync.o: mechanisms/core/sync.c \
 mechanisms/core/sync.h mechanisms/core/deadline.h \
 mechanisms/core/error.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/core/wait.h
mechanisms/core/sync.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/core/wait.h:
