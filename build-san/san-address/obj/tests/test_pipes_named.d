build-san/san-address/obj/tests/test_pipes_named.o: \
 tests/test_pipes_named.c tests/testlib.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/include/ipcplay/pipes/fifo.h \
 mechanisms/include/ipcplay/pipes/../ipc.h \
 mechanisms/include/ipcplay/pipes/tcp.h \
 mechanisms/include/ipcplay/pipes/unix.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/include/ipcplay/pipes/fifo.h:
mechanisms/include/ipcplay/pipes/../ipc.h:
mechanisms/include/ipcplay/pipes/tcp.h:
mechanisms/include/ipcplay/pipes/unix.h:
