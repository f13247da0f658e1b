build-san/san-thread/obj/mechanisms/core/fd.o: mechanisms/core/fd.c \
 mechanisms/core/fd.h mechanisms/core/deadline.h mechanisms/core/error.h \
 mechanisms/include/ipcplay/ipc.h
mechanisms/core/fd.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
