build-san/san-address/obj/mechanisms/core/backend.o: \
 mechanisms/core/backend.c mechanisms/core/backend.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/core/error.h
mechanisms/core/backend.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/core/error.h:
