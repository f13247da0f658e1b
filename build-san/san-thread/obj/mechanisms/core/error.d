build-san/san-thread/obj/mechanisms/core/error.o: mechanisms/core/error.c \
 mechanisms/core/error.h mechanisms/include/ipcplay/ipc.h
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
