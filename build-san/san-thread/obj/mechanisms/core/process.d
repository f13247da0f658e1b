build-san/san-thread/obj/mechanisms/core/process.o: \
 mechanisms/core/process.c mechanisms/core/process.h \
 mechanisms/core/error.h mechanisms/include/ipcplay/ipc.h
mechanisms/core/process.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
