build-san/san-address/obj/mechanisms/core/names.o: \
 mechanisms/core/names.c mechanisms/core/names.h mechanisms/core/error.h \
 mechanisms/include/ipcplay/ipc.h
mechanisms/core/names.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
