build-san/san-address/obj/mechanisms/core/thread.o: \
 mechanisms/core/thread.c mechanisms/core/thread.h \
 mechanisms/core/deadline.h mechanisms/core/error.h \
 mechanisms/include/ipcplay/ipc.h
mechanisms/core/thread.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
