build-san/san-address/obj/mechanisms/core/futex.o: \
 mechanisms/core/futex.c mechanisms/core/futex.h \
 mechanisms/core/deadline.h mechanisms/core/error.h \
 mechanisms/include/ipcplay/ipc.h
mechanisms/core/futex.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/include/ipcplay/ipc.h:
