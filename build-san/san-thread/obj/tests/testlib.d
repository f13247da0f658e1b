build-san/san-thread/obj/tests/testlib.o: tests/testlib.c tests/testlib.h \
 mechanisms/include/ipcplay/ipc.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
