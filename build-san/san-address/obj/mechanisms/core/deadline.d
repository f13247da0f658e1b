build-san/san-address/obj/mechanisms/core/deadline.o: \
 mechanisms/core/deadline.c mechanisms/core/deadline.h \
 mechanisms/include/ipcplay/ipc.h
mechanisms/core/deadline.h:
mechanisms/include/ipcplay/ipc.h:
