build-san/san-thread/obj/tests/test_shm.o: tests/test_shm.c \
 tests/testlib.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/include/ipcplay/shm/shared_value.h \
 mechanisms/include/ipcplay/shm/../ipc.h \
 mechanisms/include/ipcplay/shm/shm.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/include/ipcplay/shm/shared_value.h:
mechanisms/include/ipcplay/shm/../ipc.h:
mechanisms/include/ipcplay/shm/shm.h:
